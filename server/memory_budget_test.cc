#include "server/memory_budget.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace hsm::server {
namespace {

TEST(MemoryBudgetTest, GrowsWithinTheLimitOnly) {
  MemoryBudget budget;
  EXPECT_TRUE(budget.TryGrow(60, 100));
  EXPECT_FALSE(budget.TryGrow(41, 100));
  EXPECT_EQ(budget.used(), 60u);
  EXPECT_TRUE(budget.TryGrow(40, 100));  // exactly the limit
  budget.Shrink(100);
  EXPECT_EQ(budget.used(), 0u);
  // No overflow past the limit with absurd sizes.
  EXPECT_TRUE(budget.TryGrow(10, 100));
  EXPECT_FALSE(budget.TryGrow(std::numeric_limits<uint64_t>::max(), 100));
  EXPECT_FALSE(budget.TryGrow(std::numeric_limits<uint64_t>::max() - 5, std::numeric_limits<uint64_t>::max()));
  EXPECT_EQ(budget.used(), 10u);
}

TEST(MemoryChargeTest, ResizesAndGivesBackWhatItCounted) {
  auto budget = std::make_shared<MemoryBudget>();
  {
    MemoryCharge first(budget);
    MemoryCharge second(budget);
    EXPECT_TRUE(first.Resize(70, 100));
    EXPECT_FALSE(second.Resize(31, 100));
    EXPECT_EQ(second.bytes(), 0u);
    EXPECT_TRUE(second.Resize(30, 100));
    EXPECT_FALSE(first.Resize(71, 100));  // a failed growth keeps what was counted
    EXPECT_EQ(first.bytes(), 70u);
    EXPECT_EQ(budget->used(), 100u);
    // A shrink succeeds whatever the limit.
    EXPECT_TRUE(first.Resize(20, 0));
    EXPECT_EQ(budget->used(), 50u);
    second.Clear();
    EXPECT_EQ(budget->used(), 20u);
  }
  EXPECT_EQ(budget->used(), 0u) << "destroyed charges give their bytes back";
}

TEST(MemoryChargeTest, ConcurrentHoldersNeverPassTheLimit) {
  auto budget = std::make_shared<MemoryBudget>();
  static constexpr uint64_t kLimit = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&budget] {
      MemoryCharge charge(budget);
      for (int i = 0; i < 20000; ++i) {
        charge.Resize(static_cast<uint64_t>(i % 7) * 100, kLimit);
        EXPECT_LE(budget->used(), kLimit);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(budget->used(), 0u);
}

}  // namespace
}  // namespace hsm::server
