// Hostile plugins on every engine: the host refuses bad modules with a message naming the
// problem, survives misbehaving ones, and applies the failure policy.
#include <gtest/gtest.h>

#include <thread>

#include "engine_test.h"
#include "watchdog.h"

namespace proxy_wasm::host::testing {
namespace {

class Hostile : public EngineTest {
 protected:
  // A short deadline on every engine (the interpreter included) and a 64 MiB memory cap.
  HarnessOptions options(std::string configuration = "",
                         FailurePolicy policy = FailurePolicy::FailClosed) {
    HarnessOptions o = EngineTest::options("hostile", std::move(configuration));
    o.plugin.failure_policy = policy;
    o.vm.callback_deadline = std::chrono::milliseconds(100);
    o.vm.memory_limit_bytes = 64ull << 20;
    return o;
  }
  std::unique_ptr<PluginHarness> load(HarnessOptions o) {
    auto h = EngineTest::load("hostile", std::move(o));
    EXPECT_TRUE(h) << error_;
    return h;
  }
  std::string loadError(std::string_view plugin) {
    EXPECT_FALSE(EngineTest::load(plugin, options()));
    return error_;
  }
};

TEST_P(Hostile, OutOfBoundsPointersAreRefusedNotFatal) {
  auto h = load(options());
  for (const char* what : {"oob-log", "oob-slot"}) {
    auto s = h->newStream();
    EXPECT_EQ(s->sendRequestHeaders({{"x-hostile", what}}), FilterHeadersStatus::Continue)
        << what << ": the plugin saw InvalidMemoryAccess";
  }
  EXPECT_FALSE(h->vm().failed());
}

TEST_P(Hostile, HugeAllocationFailsAgainstTheMemoryCap) {
  auto h = load(options());
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{"x-hostile", "huge-alloc"}}), FilterHeadersStatus::Continue);
  EXPECT_FALSE(h->vm().failed());
  EXPECT_LE(h->vm().memoryBytes(), 64ull << 20);
}

TEST_P(Hostile, RunningOutOfMemoryTrapsAndFailsClosed) {
  auto h = load(options());
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{"x-hostile", "grow-loop"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  EXPECT_TRUE(h->vm().failed());
  EXPECT_LE(h->vm().memoryBytes(), 64ull << 20);
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 503u);
  EXPECT_EQ(s->local_reply->details, "wasm_fail_stream");
  // Every later stream on the failed VM fails closed too, without entering it.
  auto s2 = h->newStream();
  EXPECT_EQ(s2->sendRequestHeaders({{"x-hostile", "none"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_TRUE(s2->local_reply);
  EXPECT_EQ(s2->local_reply->status, 503u);
}

TEST_P(Hostile, EndlessLoopIsStoppedByTheDeadline) {
  auto h = load(options());
  auto s = h->newStream();
  auto start = std::chrono::steady_clock::now();
  s->sendRequestHeaders({{"x-hostile", "loop"}});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(h->vm().failed());
  EXPECT_NE(h->vm().failureMessage().find("CPU deadline of 100 ms"), std::string::npos)
      << h->vm().failureMessage();
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_TRUE(h->logged("proxy_on_request_headers"));
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 503u);
}

// The deadline counts CPU time: a call that waits in a hostcall (here a log sink that takes
// 300 ms, three times the deadline) and then runs on is not stopped, on any engine.
TEST_P(Hostile, TimeWaitingInAHostcallIsNotChargedToTheDeadline) {
  auto h = load(options());
  h->on_log = [](LogLevel, std::string_view message) {
    if (message == "slow hostcall") std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{"x-hostile", "slow-hostcall"}}), FilterHeadersStatus::Continue);
  EXPECT_FALSE(h->vm().failed()) << h->vm().failureMessage();
  EXPECT_TRUE(h->logged("slow hostcall"));
}

// On V8 and wasm2c the deadline is the watchdog thread's, which parks while no call is armed: a
// call that starts then must wake it. (The interpreter checks its deadline between slices of
// instructions instead.)
TEST_P(Hostile, EndlessLoopStartedWhileTheWatchdogIsParkedIsStopped) {
  auto h = load(options());
  if (GetParam() != "wabt" && Watchdog::canPark()) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!Watchdog::parked() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(Watchdog::parked());
  }
  auto s = h->newStream();
  auto start = std::chrono::steady_clock::now();
  s->sendRequestHeaders({{"x-hostile", "loop"}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(h->vm().failureMessage().find("CPU deadline of 100 ms"), std::string::npos)
      << h->vm().failureMessage();
}

TEST_P(Hostile, EndlessLoopOfHostcallsIsStoppedByTheDeadline) {
  auto h = load(options());
  auto s = h->newStream();
  auto start = std::chrono::steady_clock::now();
  s->sendRequestHeaders({{"x-hostile", "hostcall-loop"}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(h->vm().failed());
  EXPECT_NE(h->vm().failureMessage().find("CPU deadline of 100 ms"), std::string::npos)
      << h->vm().failureMessage();
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 503u);
}

TEST_P(Hostile, EndlessRecursionTrapsInsteadOfCrashing) {
  auto h = load(options());
  auto s = h->newStream();
  s->sendRequestHeaders({{"x-hostile", "recurse"}});
  EXPECT_TRUE(h->vm().failed());
  EXPECT_NE(h->vm().failureMessage().find("proxy_on_request_headers"), std::string::npos)
      << h->vm().failureMessage();
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 503u);
  // The VM's thread is still usable: a new VM on the same engine works.
  auto again = load(options());
  EXPECT_EQ(again->newStream()->sendRequestHeaders({}), FilterHeadersStatus::Continue);
}

TEST_P(Hostile, TrapInRequestHeadersFailsTheVmWithItsName) {
  auto h = load(options());
  auto s = h->newStream();
  s->sendRequestHeaders({{"x-hostile", "trap"}});
  EXPECT_TRUE(h->vm().failed());
  EXPECT_NE(h->vm().failureMessage().find("Function: proxy_on_request_headers failed"),
            std::string::npos)
      << h->vm().failureMessage();
  EXPECT_TRUE(h->logged("plugin hostile"));
  EXPECT_EQ(h->vm_failures, 1);
  s->end();  // lifecycle callbacks are skipped on a failed VM, without crashing
}

TEST_P(Hostile, FailOpenSkipsTheFailedPlugin) {
  auto h = load(options("", FailurePolicy::FailOpen));
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{"x-hostile", "trap"}}), FilterHeadersStatus::Continue);
  EXPECT_FALSE(s->local_reply);
  auto s2 = h->newStream();
  EXPECT_EQ(s2->sendRequestHeaders({{"x-hostile", "none"}}), FilterHeadersStatus::Continue);
}

TEST_P(Hostile, FailReloadRebuildsTheVmAfterBackoff) {
  const auto before = PluginHarness::metric("wasm.hostile.vm_restarts").value_or(0);
  auto h = load(options("", FailurePolicy::FailReload));
  auto s = h->newStream();
  s->sendRequestHeaders({{"x-hostile", "trap"}});
  ASSERT_TRUE(h->vm().failed());
  auto during = h->newStream();  // within the backoff: fail closed
  EXPECT_EQ(during->sendRequestHeaders({{"x-hostile", "none"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  h->advance(std::chrono::milliseconds(1001));
  auto after = h->newStream();
  EXPECT_EQ(after->sendRequestHeaders({{"x-hostile", "none"}}), FilterHeadersStatus::Continue);
  EXPECT_FALSE(h->vm().failed());
  EXPECT_EQ(h->plugin().restarts(), 1u);
  EXPECT_EQ(PluginHarness::metric("wasm.hostile.vm_restarts"), before + 1);
  EXPECT_EQ(h->plugin().backoffNs(), 2 * ThreadLocalPlugin::kInitialBackoffNs)
      << "the next reload waits twice as long";
}

TEST_P(Hostile, TrapInConfigureRejectsThePlugin) {
  std::string error;
  EXPECT_FALSE(PluginHarness::create(pluginPath("hostile"), options("trap-configure"), &error));
  EXPECT_NE(error.find("proxy_on_configure failed"), std::string::npos) << error;
}

TEST_P(Hostile, TrapInTickAndInLogFailTheVm) {
  auto h = load(options("trap-tick"));
  h->advance(std::chrono::milliseconds(20));
  EXPECT_TRUE(h->vm().failed());
  EXPECT_NE(h->vm().failureMessage().find("proxy_on_tick"), std::string::npos);

  auto l = load(options("trap-log"));
  auto s = l->newStream();
  s->sendRequestHeaders({{"x-hostile", "none"}});
  s->end();
  EXPECT_TRUE(l->vm().failed());
  EXPECT_NE(l->vm().failureMessage().find("proxy_on_log"), std::string::npos);
}

TEST_P(Hostile, StreamsPausedInAVmThatFailsAreAnsweredAtOnce) {
  auto h = load(options("trap-tick"));
  auto paused = h->newStream();
  EXPECT_EQ(paused->sendRequestHeaders({{"x-hostile", "pause"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  EXPECT_FALSE(paused->local_reply);
  h->advance(std::chrono::milliseconds(20));  // the tick traps
  ASSERT_TRUE(h->vm().failed());
  ASSERT_TRUE(paused->local_reply) << "fail closed: 503 now, not a hang";
  EXPECT_EQ(paused->local_reply->status, 503u);

  auto open = load(options("trap-tick", FailurePolicy::FailOpen));
  auto p2 = open->newStream();
  p2->sendRequestHeaders({{"x-hostile", "pause"}});
  open->advance(std::chrono::milliseconds(20));
  EXPECT_FALSE(p2->local_reply);
  EXPECT_EQ(p2->request_continued, 1) << "fail open: the paused stream continues";
}

TEST_P(Hostile, HostcallInAStaticConstructorIsRefused) {
  std::string error = loadError("hostile_static_ctor");
  EXPECT_NE(error.find("proxy_set_tick_period_milliseconds is not allowed during module "
                       "initialisation"),
            std::string::npos)
      << error;
}

TEST_P(Hostile, MistypedImportIsRefusedByName) {
  std::string error = loadError("hostile_bad_import");
  EXPECT_NE(error.find("import env.proxy_log has type (i64) -> i32"), std::string::npos) << error;
}

TEST_P(Hostile, UnknownImportIsRefusedByName) {
  std::string error = loadError("hostile_unknown_import");
  EXPECT_NE(error.find("unknown import env.proxy_make_coffee"), std::string::npos) << error;
}

TEST_P(Hostile, ModuleWithoutAllocatorIsRefused) {
  std::string error = loadError("hostile_no_malloc");
  EXPECT_NE(error.find("no allocator"), std::string::npos) << error;
}

PWX_INSTANTIATE_ON_ALL_ENGINES(Hostile);

}  // namespace
}  // namespace proxy_wasm::host::testing
