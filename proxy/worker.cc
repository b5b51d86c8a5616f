#include "worker.h"

#include <future>

#include "worker_state.h"

namespace wasm_proxy {

// ---- Worker ------------------------------------------------------------------------------------

Worker::Worker(int index, WorkerOptions options)
    : index_(index),
      options_(options),
      state_(std::make_shared<WorkerState>(io_, index, options)) {}

Worker::~Worker() {
  join();
}

bool Worker::prepareConfig(std::shared_ptr<const Bootstrap> config, std::string* error) {
  std::promise<std::pair<bool, std::string>> done;
  auto result = done.get_future();
  asio::post(io_, [state = state_, config, &done] {
    std::string e;
    bool ok = state->prepareConfig(config, &e);
    done.set_value({ok, e});
  });
  auto [ok, e] = result.get();
  if (!ok) *error = e;
  return ok;
}

void Worker::runAndWait(std::function<void(WorkerState&)> action) {
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(io_, [state = state_, &action, &done] {
    action(*state);
    done.set_value();
  });
  finished.get();
}

void Worker::commitConfig() {
  runAndWait([](WorkerState& s) { s.commitConfig(); });
}

void Worker::abandonConfig() {
  runAndWait([](WorkerState& s) { s.abandonConfig(); });
}

bool Worker::listen(std::string* error) {
  std::promise<std::string> done;
  auto result = done.get_future();
  asio::post(io_, [state = state_, &done] { done.set_value(state->listen()); });
  *error = result.get();
  return error->empty();
}

void Worker::start() {
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    // The work guard keeps the loop alive until drain stops it.
    io_.run();
    state_->releaseEngines();  // the engines outlive this thread (they go with the Worker)
  });
}

void Worker::drain() {
  asio::post(io_, [state = state_] { state->beginDrain(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

size_t Worker::activeRequests() const {
  return state_->active_requests_;
}

size_t Worker::finishingPlugins() const {
  return state_->finishing_plugins_;
}

bool Worker::drained() const {
  return state_->drained_;
}

}  // namespace wasm_proxy
