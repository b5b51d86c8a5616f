package test

default allow = false

allow {
  input.request_method == "GET"
  input.request_url_path == "/echo"
  input.destination_workload == "echo-server"
}
