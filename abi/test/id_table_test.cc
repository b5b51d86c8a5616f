// IdTable (the context registries of the SDK and the host): lookups after growth and after erasures
// that shift colliding entries back, against std::map as the model.
#include "proxy_wasm/abi/id_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

namespace {

using proxy_wasm::abi::IdTable;

TEST(IdTable, FindsWhatWasInsertedAcrossGrowth) {
  IdTable<int> t;
  EXPECT_EQ(t.find(1), nullptr);
  for (uint32_t id = 1; id <= 1000; ++id) t.insert(id, static_cast<int>(id) * 3);
  EXPECT_EQ(t.size(), 1000u);
  for (uint32_t id = 1; id <= 1000; ++id) {
    ASSERT_NE(t.find(id), nullptr) << id;
    EXPECT_EQ(*t.find(id), static_cast<int>(id) * 3);
  }
  EXPECT_EQ(t.find(0), nullptr);
  EXPECT_EQ(t.find(1001), nullptr);
}

TEST(IdTable, TakeHandsBackTheValueAndForgetsTheId) {
  IdTable<std::unique_ptr<int>> t;
  t.insert(7, std::make_unique<int>(70));
  auto v = t.take(7);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(**v, 70);
  EXPECT_EQ(t.find(7), nullptr);
  EXPECT_FALSE(t.take(7).has_value());
  EXPECT_EQ(t.size(), 0u);
}

// Random inserts and erasures with ids drawn from a small range, so that probe runs collide,
// wrap around the array's end and are shifted back on erasure; every id is checked each round.
TEST(IdTable, MatchesAMapUnderRandomInsertsAndErasures) {
  for (uint32_t stride : {1u, 2u, 64u, 4096u}) {
    IdTable<uint32_t> t;
    std::map<uint32_t, uint32_t> model;
    std::mt19937 rng(stride);
    for (int round = 0; round < 4000; ++round) {
      const uint32_t id = (rng() % 200 + 1) * stride;
      if (model.count(id) != 0) {
        auto v = t.take(id);
        ASSERT_TRUE(v.has_value());
        EXPECT_EQ(*v, model[id]);
        model.erase(id);
      } else {
        t.insert(id, static_cast<uint32_t>(round));
        model[id] = static_cast<uint32_t>(round);
      }
      ASSERT_EQ(t.size(), model.size());
      for (uint32_t k = 1; k <= 200; ++k) {
        const uint32_t probe = k * stride;
        auto it = model.find(probe);
        uint32_t* found = t.find(probe);
        ASSERT_EQ(found != nullptr, it != model.end()) << "stride " << stride << " id " << probe;
        if (found != nullptr) {
          ASSERT_EQ(*found, it->second);
        }
      }
    }
  }
}

TEST(IdTable, ShrinksAfterABurstAndKeepsWhatIsLeft) {
  IdTable<uint32_t> t;
  for (uint32_t id = 1; id <= 10000; ++id) t.insert(id, id);
  const size_t peak = t.capacity();
  for (uint32_t id = 1; id <= 10000; ++id) {
    if (id % 1000 != 0) {
      ASSERT_TRUE(t.take(id).has_value());
    }
  }
  EXPECT_LE(t.capacity(), 256u);
  EXPECT_LT(t.capacity(), peak);
  for (uint32_t id = 1000; id <= 10000; id += 1000) {
    ASSERT_NE(t.find(id), nullptr) << id;
    EXPECT_EQ(*t.find(id), id);
  }
  EXPECT_EQ(t.size(), 10u);
}

// Streams in flight on a busy worker: the live count swings between a few and a few dozen. A
// table that small keeps the size it grew to instead of halving and growing back every swing.
TEST(IdTable, ASmallTableKeepsItsSizeWhileItsCountSwings) {
  IdTable<uint32_t> t;
  uint32_t next_id = 1, oldest = 1;
  while (t.size() < 40) t.insert(next_id, next_id), ++next_id;
  const size_t grown = t.capacity();
  for (int swing = 0; swing < 100; ++swing) {
    while (t.size() > 2) {
      ASSERT_TRUE(t.take(oldest++).has_value());
      ASSERT_EQ(t.capacity(), grown) << "swing " << swing << ", " << t.size() << " left";
    }
    while (t.size() < 40) t.insert(next_id, next_id), ++next_id;
    ASSERT_EQ(t.capacity(), grown) << "swing " << swing;
  }
}

TEST(IdTable, ForEachVisitsEveryEntryOnce) {
  IdTable<int> t;
  for (uint32_t id = 10; id < 40; ++id) t.insert(id, 1);
  t.take(15);
  std::map<uint32_t, int> seen;
  t.forEach([&](uint32_t id, int& v) { seen[id] += v; });
  EXPECT_EQ(seen.size(), 29u);
  EXPECT_EQ(seen.count(15), 0u);
  for (auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
}

}  // namespace
