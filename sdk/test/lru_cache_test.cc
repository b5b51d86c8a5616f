// LruCache: eviction order, refresh on find and insert, capacity 0, erase, reset.
#include "proxy_wasm/sdk/lru_cache.h"

#include <gtest/gtest.h>

namespace {

using proxy_wasm::LruCache;

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
  LruCache<int> c(2);
  c.insert("a", 1);
  c.insert("b", 2);
  ASSERT_NE(c.find("a"), nullptr);  // "a" is now the most recent
  c.insert("c", 3);                 // evicts "b"
  EXPECT_EQ(c.find("b"), nullptr);
  EXPECT_EQ(*c.find("a"), 1);
  EXPECT_EQ(*c.find("c"), 3);
  EXPECT_EQ(c.size(), 2u);
}

TEST(LruCache, InsertReplacesAndRefreshes) {
  LruCache<std::string> c(2);
  c.insert("a", "x");
  c.insert("b", "y");
  c.insert("a", "z");  // replaces, and "a" becomes the most recent
  c.insert("c", "w");  // evicts "b"
  EXPECT_EQ(*c.find("a"), "z");
  EXPECT_EQ(c.find("b"), nullptr);
  EXPECT_EQ(c.size(), 2u);
}

TEST(LruCache, CapacityZeroEraseAndReset) {
  LruCache<int> none(0);
  none.insert("a", 1);
  EXPECT_EQ(none.find("a"), nullptr);
  LruCache<int> c(3);
  c.insert("a", 1);
  c.insert("b", 2);
  c.erase("a");
  c.erase("missing");
  EXPECT_EQ(c.find("a"), nullptr);
  EXPECT_EQ(c.size(), 1u);
  c.reset(1);
  EXPECT_EQ(c.size(), 0u);
  c.insert("x", 1);
  c.insert("y", 2);
  EXPECT_EQ(c.find("x"), nullptr);
  EXPECT_EQ(c.capacity(), 1u);
}

}  // namespace
