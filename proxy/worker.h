// A worker: one thread, one event loop, its own listeners (SO_REUSEPORT), upstream connection
// pools, Wasm engines and VMs — the unit Envoy calls a worker. Workers share only the config
// snapshot (immutable), shared data/queues and metrics.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config.h"

namespace wasm_proxy {

namespace asio = boost::asio;

class WorkerState;

struct WorkerOptions {
  // How much of a body one filter may hold (StopIterationAndBuffer) before the request gets 413
  // or the response 500; bodies that stream through are not limited.
  size_t max_request_body_bytes = 16u << 20;
  size_t max_response_body_bytes = 64u << 20;
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds idle_timeout{300};
};

class Worker {
 public:
  Worker(int index, WorkerOptions options);
  ~Worker();

  // Binds this worker's listeners (SO_REUSEPORT) of its current config.
  bool listen(std::string* error);
  // Runs the loop on a new thread (before the first config).
  void start();
  // Thread-safe, blocking: instantiates `config` on this worker (its plugins start on the
  // worker's thread) without using it yet; on failure nothing changes. A reload prepares every
  // worker before any switches.
  bool prepareConfig(std::shared_ptr<const Bootstrap> config, std::string* error);
  // Thread-safe, blocking: new streams use the prepared config; streams in flight finish on the
  // old one.
  void commitConfig();
  // Thread-safe, blocking: drops the prepared config (another worker could not start it).
  void abandonConfig();
  // Thread-safe: stop accepting, finish in-flight requests, close idle connections, stop.
  void drain();
  // Thread-safe: stops the loop now (after a drain timeout).
  void stop() { io_.stop(); }
  void join();
  int index() const { return index_; }
  size_t activeRequests() const;
  // Plugins stopped by the drain but still flushing (their on_done returned false).
  size_t finishingPlugins() const;
  // The drain finished by itself: no request in flight, every plugin done.
  bool drained() const;

 private:
  // Runs `action` on the worker's thread and waits for it.
  void runAndWait(std::function<void(WorkerState&)> action);

  int index_;
  WorkerOptions options_;
  // One thread runs the loop and does all socket I/O; other threads only post to it, which the
  // scheduler's lock still covers. So the reactor skips its per-descriptor locks.
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::thread thread_;
  std::shared_ptr<WorkerState> state_;
};

}  // namespace wasm_proxy
