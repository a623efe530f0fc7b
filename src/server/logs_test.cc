#include "server/logs.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "core/fs.h"

namespace plumb::server {
namespace {

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::MakeTempDir("plumb-logs-test");
    ASSERT_TRUE(d.ok());
    dir_ = fs::TempDir(*d);
    path_ = dir_.path() + "/web-0.log";
  }
  void Write(const std::string& path, const std::string& text, bool append = false) {
    std::ofstream f(path, append ? std::ios::app : std::ios::trunc);
    f << text;
  }
  fs::TempDir dir_;
  std::string path_;
};

using Lines = std::vector<std::string>;

TEST_F(LogsTest, TailsTheLastLinesOfTheCurrentFile) {
  Write(path_, "one\ntwo\nthree\n");
  auto t = TailLog(path_, 2, true);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->lines, (Lines{"two", "three"}));
  EXPECT_EQ(t->offset, 14u);
}

TEST_F(LogsTest, MissingFileIsEmpty) {
  auto t = TailLog(path_, 10, true);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->lines.empty());
}

TEST_F(LogsTest, ReadsRotatedFilesWhenTheCurrentHasTooFewLines) {
  Write(path_ + ".2", "a\nb\n");
  Write(path_ + ".1", "c\nd\n");
  Write(path_, "e\n");
  EXPECT_EQ(TailLog(path_, 4, true)->lines, (Lines{"b", "c", "d", "e"}));
  EXPECT_EQ(TailLog(path_, 100, true)->lines, (Lines{"a", "b", "c", "d", "e"}));
}

TEST_F(LogsTest, PartialLastLineOnlyWhenAsked) {
  Write(path_, "done\nhalf");
  EXPECT_EQ(TailLog(path_, 5, true)->lines, (Lines{"done", "half"}));
  auto t = TailLog(path_, 5, false);
  EXPECT_EQ(t->lines, (Lines{"done"}));
  EXPECT_EQ(t->offset, 5u);  // following continues with "half..."
}

TEST_F(LogsTest, TailOfALargeFileReadsOnlyItsEnd) {
  std::string big;
  for (int i = 0; i < 50000; ++i) big += "line " + std::to_string(i) + "\n";
  Write(path_, big);
  EXPECT_EQ(TailLog(path_, 3, true)->lines, (Lines{"line 49997", "line 49998", "line 49999"}));
}

TEST_F(LogsTest, MasksSecretValuesButNotShortOnes) {
  EXPECT_EQ(MaskValues("token=hunter22 again hunter22", {"hunter22", "abc"}),
            "token=<secret value hidden> again <secret value hidden>");
  EXPECT_EQ(MaskValues("abc", {"abc"}), "abc");
}

TEST_F(LogsTest, FollowerSeesNewLinesAfterTheTail) {
  Write(path_, "old\npart");
  auto t = TailLog(path_, 10, false);
  LogFollower f({{.path = path_, .prefix = "[web-0] ", .inode = t->inode, .offset = t->offset}});
  EXPECT_EQ(f.Poll(), (Lines{}));
  Write(path_, "ial\nnext\n", true);
  EXPECT_EQ(f.Poll(), (Lines{"[web-0] partial", "[web-0] next"}));
  EXPECT_EQ(f.Poll(), (Lines{}));
}

TEST_F(LogsTest, FollowerFollowsRotationAndTruncation) {
  Write(path_, "a\n");
  auto t = TailLog(path_, 10, false);
  LogFollower f({{.path = path_, .inode = t->inode, .offset = t->offset}});
  Write(path_, "b\n", true);  // written before the rotation: still seen
  ASSERT_EQ(::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  Write(path_, "c\n");
  EXPECT_EQ(f.Poll(), (Lines{"b", "c"}));
  Write(path_, "dd\n", true);
  EXPECT_EQ(f.Poll(), (Lines{"dd"}));
  Write(path_, "x\n");  // truncated and rewritten in place (shorter than what was read)
  EXPECT_EQ(f.Poll(), (Lines{"x"}));
}

TEST_F(LogsTest, FollowerWaitsForAFileNotWrittenYet) {
  LogFollower f({{.path = path_}});
  EXPECT_EQ(f.Poll(), (Lines{}));
  Write(path_, "first\n");
  EXPECT_EQ(f.Poll(), (Lines{"first"}));
}

int Port(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (peer)
    getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len);
  else
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST(ConnectionTest, FindsTheServedSocketAndSeesThePeerClose) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  addr.sin_port = htons(static_cast<uint16_t>(Port(listener, false)));
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  int served = accept(listener, nullptr, nullptr);
  ASSERT_GE(served, 0);

  EXPECT_EQ(FindConnectionSocket("127.0.0.1", Port(served, false), "127.0.0.1", Port(served, true)),
            served);
  EXPECT_EQ(FindConnectionSocket("127.0.0.1", Port(served, false), "127.0.0.2", 1), -1);
  EXPECT_FALSE(PeerClosed(served));
  close(client);
  EXPECT_TRUE(PeerClosed(served));
  close(served);
  close(listener);
}

}  // namespace
}  // namespace plumb::server
