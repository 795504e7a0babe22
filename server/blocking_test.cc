#include "server/blocking.h"

#include "gtest/gtest.h"

namespace hsm::server {
namespace {

struct FakeServer {
  int handoffs = 0;
  int done = 0;
  bool cores_busy = false;
};

const BlockingHook kHook{
    [](void* server) { ++static_cast<FakeServer*>(server)->handoffs; },
    [](void* server) { return static_cast<FakeServer*>(server)->cores_busy; },
    [](void* server) { ++static_cast<FakeServer*>(server)->done; },
    nullptr,
};

TEST(BlockingTest, TheHookRunsOncePerCall) {
  FakeServer server;
  BlockingHook hook = kHook;
  hook.arg = &server;
  SetBlockingHook(&hook);
  EXPECT_TRUE(BlockingHookPending());
  AboutToBlock();
  AboutToBlock();
  EXPECT_EQ(server.handoffs, 1);
  EXPECT_FALSE(BlockingHookPending());
  SetBlockingHook(&hook);  // the next call
  EXPECT_TRUE(BlockingHookPending());
  AboutToBlock();
  EXPECT_EQ(server.handoffs, 2);
  SetBlockingHook(nullptr);
  AboutToBlock();
  EXPECT_EQ(server.handoffs, 2);
  EXPECT_FALSE(BlockingHookPending());
}

// The end of a computation is counted once, and only for a call that
// announced one: the RPC thread reports it before the reply and again after.
TEST(BlockingTest, AComputationEndsOnceAndOnlyIfItStarted) {
  FakeServer server;
  BlockingHook hook = kHook;
  hook.arg = &server;
  SetBlockingHook(&hook);
  ComputationDone();
  EXPECT_EQ(server.done, 0) << "a quick call";
  SetBlockingHook(&hook);
  AboutToBlock();
  ComputationDone();
  ComputationDone();
  EXPECT_EQ(server.done, 1);
  SetBlockingHook(nullptr);
}

// DataReply.cores_busy: only a call that computed itself may tell its
// client to stop polling, and only while the computations leave a core at most.
TEST(BlockingTest, CoresAreBusyOnlyForACallThatComputesWhileAllCoresDo) {
  FakeServer server;
  server.cores_busy = true;
  BlockingHook hook = kHook;
  hook.arg = &server;
  SetBlockingHook(&hook);
  EXPECT_FALSE(CoresBusyComputing()) << "a quick call";
  AboutToBlock();
  EXPECT_TRUE(CoresBusyComputing());
  server.cores_busy = false;
  EXPECT_FALSE(CoresBusyComputing());
  SetBlockingHook(&hook);
  server.cores_busy = true;
  EXPECT_FALSE(CoresBusyComputing()) << "the next call has not computed";
  SetBlockingHook(nullptr);
  AboutToBlock();
  EXPECT_FALSE(CoresBusyComputing()) << "no RPC thread (a unit test of the crypto)";
}

TEST(BlockingTest, LongCallReachesOnlyAHookThatTakesIt) {
  int long_calls = 0;
  BlockingHook hook;
  hook.long_call = [](void* count) { ++*static_cast<int*>(count); };
  hook.arg = &long_calls;
  SetBlockingHook(&hook);
  LongCall();
  LongCall();
  EXPECT_EQ(long_calls, 2);  // starting a poller is the server's to decide each time
  AboutToBlock();             // no about_to_block: nothing happens
  ComputationDone();
  EXPECT_FALSE(CoresBusyComputing());
  SetBlockingHook(nullptr);
  LongCall();  // outside an RPC thread
  EXPECT_EQ(long_calls, 2);
  FakeServer server;
  BlockingHook quick = kHook;  // the hook of a quick call has no long_call
  quick.arg = &server;
  SetBlockingHook(&quick);
  LongCall();
  EXPECT_EQ(server.handoffs, 0);
  SetBlockingHook(nullptr);
}

}  // namespace
}  // namespace hsm::server
