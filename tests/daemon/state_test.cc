// Tests for the daemon's SQLite state: volumes, tables and events survive
// close, kill -9 and renames; bad, newer, corrupt, locked or shared database
// files are refused with errors naming the file; failures change nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "state/migrations.h"
#include "state/state_store.h"

namespace udm::daemon {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A plain SQLite connection of "another process" (or a tool) on the file.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK) << path;
  }
  ~RawDb() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << sql << ": " << (message != nullptr ? message : "");
    sqlite3_free(message);
  }

  // The first column of the first row, as text ("" if none).
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string result;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_text(stmt, 0) != nullptr) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return result;
  }

 private:
  sqlite3* db_ = nullptr;
};

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "udm-state-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/udm.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<StateStore> OpenStore() {
    auto store = StateStore::Open(path_);
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  // The error of an Open() that must fail.
  Error OpenError() {
    auto store = StateStore::Open(path_);
    if (store) return Error{ErrorCode::kInvalidArgument, 0, "(opened)"};
    return store.error();
  }

  static VolumeRecord Volume(std::string name, std::optional<std::string> live = std::nullopt) {
    VolumeRecord v;
    v.name = std::move(name);
    v.live_table = std::move(live);
    return v;
  }

  static std::vector<std::string> Kinds(const std::vector<EventRecord>& events) {
    std::vector<std::string> kinds;
    for (const auto& e : events) kinds.push_back(e.volume + ":" + e.kind);
    return kinds;
  }

  // Every volume; a failure is reported and gives an empty list.
  static std::vector<VolumeRecord> Load(StateStore& store) {
    auto volumes = store.LoadVolumes();
    EXPECT_TRUE(volumes) << volumes.error().message;
    return volumes ? std::move(*volumes) : std::vector<VolumeRecord>();
  }

  // "volume:kind" of the volume's newest 1000 events, oldest first.
  static std::vector<std::string> EventKinds(StateStore& store, const std::string& volume) {
    auto events = store.Events(volume, 1000);
    EXPECT_TRUE(events) << events.error().message;
    return events ? Kinds(*events) : std::vector<std::string>();
  }

  void WriteFile(const std::string& path, const std::string& bytes, std::streamoff offset = 0) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    if (!file) file.open(path, std::ios::out | std::ios::binary);
    file.seekp(offset);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(file.good()) << path;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateStoreTest, CreateAndLoadRoundTrip) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  VolumeRecord a = Volume("a", "0 100 linear /dev/x 0");
  a.uuid = "UUID-A";
  a.read_only = true;
  a.barrier_mode = "ordered";
  a.created_at = "2024-05-01T12:34:56.789Z";
  a.inactive_table = "0 200 zero";
  ASSERT_TRUE(store->CreateVolume(a));
  ASSERT_TRUE(store->CreateVolume(Volume("b")));

  auto volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 2u);
  const VolumeRecord& la = volumes[0];
  EXPECT_EQ(la.name, "a");
  EXPECT_EQ(la.uuid, "UUID-A");
  EXPECT_TRUE(la.read_only);
  EXPECT_EQ(la.barrier_mode, "ordered");
  EXPECT_EQ(la.created_at, "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(la.live_table, "0 100 linear /dev/x 0");
  EXPECT_EQ(la.inactive_table, "0 200 zero");
  const VolumeRecord& lb = volumes[1];
  EXPECT_EQ(lb.name, "b");
  EXPECT_EQ(lb.uuid, "");
  EXPECT_FALSE(lb.read_only);
  EXPECT_EQ(lb.barrier_mode, "flush");
  EXPECT_THAT(lb.created_at,
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z"));
  EXPECT_EQ(lb.live_table, std::nullopt);
  EXPECT_EQ(lb.inactive_table, std::nullopt);

  auto events = store->Events("a", 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, "create");
  EXPECT_EQ((*events)[0].detail, "barriers=ordered read-only uuid=UUID-A");
}

TEST_F(StateStoreTest, CreateRefusesDuplicatesAndBadFieldsWithoutRecordingAnything) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  VolumeRecord a = Volume("a");
  a.uuid = "U1";
  ASSERT_TRUE(store->CreateVolume(a));

  auto dup_name = store->CreateVolume(Volume("a"));
  ASSERT_FALSE(dup_name);
  EXPECT_EQ(dup_name.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup_name.error().message, "volume 'a' already exists");

  VolumeRecord b = Volume("b");
  b.uuid = "U1";
  auto dup_uuid = store->CreateVolume(b);
  ASSERT_FALSE(dup_uuid);
  EXPECT_EQ(dup_uuid.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup_uuid.error().message, "uuid 'U1' is already used by volume 'a'");

  b.uuid = "";
  b.barrier_mode = "sometimes";
  auto bad_mode = store->CreateVolume(b);
  ASSERT_FALSE(bad_mode);
  EXPECT_EQ(bad_mode.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad_mode.error().message, AllOf(HasSubstr("'b'"), HasSubstr("'sometimes'")));
  EXPECT_FALSE(store->CreateVolume(Volume("")));

  auto volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_THAT(EventKinds(*store, ""), ElementsAre("a:create"));
}

TEST_F(StateStoreTest, TablesSetSwapAndClear) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateVolume(Volume("v", "T1")));
  // "live | inactive", "-" for no table.
  auto tables = [&]() -> std::string {
    auto volumes = Load(*store);
    if (volumes.size() != 1) return "(load failed)";
    return volumes[0].live_table.value_or("-") + " | " + volumes[0].inactive_table.value_or("-");
  };

  ASSERT_TRUE(store->SetInactiveTable("v", "T2"));
  EXPECT_EQ(tables(), "T1 | T2");
  ASSERT_TRUE(store->SwapTables("v"));
  EXPECT_EQ(tables(), "T2 | -");

  auto no_inactive = store->SwapTables("v");
  ASSERT_FALSE(no_inactive);
  EXPECT_EQ(no_inactive.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(no_inactive.error().message, "volume 'v' has no inactive table to swap in");
  EXPECT_EQ(tables(), "T2 | -");

  ASSERT_TRUE(store->SetInactiveTable("v", "T3"));
  ASSERT_TRUE(store->SetInactiveTable("v", std::nullopt));
  ASSERT_TRUE(store->SetLiveTable("v", "T4", EventNote{"resume", "by test"}));
  EXPECT_EQ(tables(), "T4 | -");
  ASSERT_TRUE(store->SetLiveTable("v", std::nullopt));
  EXPECT_EQ(tables(), "- | -");

  auto events = store->Events("v", 100);
  ASSERT_TRUE(events);
  EXPECT_THAT(Kinds(*events), ElementsAre("v:create", "v:load", "v:swap", "v:load", "v:clear",
                                          "v:resume", "v:set-live"));
  EXPECT_EQ((*events)[2].detail, "T2");
  EXPECT_EQ((*events)[5].detail, "by test");
}

TEST_F(StateStoreTest, UnknownVolumeIsNotFound) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  std::vector<Status> results = {
      store->SetLiveTable("ghost", "T"),      store->SetInactiveTable("ghost", "T"),
      store->SwapTables("ghost"),             store->RenameVolume("ghost", "spirit"),
      store->RemoveVolume("ghost"),           store->AddEvent("ghost", "note", ""),
  };
  for (const Status& status : results) {
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(status.error().message, "volume 'ghost' not found");
  }
  EXPECT_THAT(EventKinds(*store, ""), ElementsAre());
}

TEST_F(StateStoreTest, RenameAndRemove) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateVolume(Volume("a", "TA")));
  ASSERT_TRUE(store->CreateVolume(Volume("c")));

  auto taken = store->RenameVolume("a", "c");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(taken.error().message, "volume 'c' already exists");
  EXPECT_FALSE(store->RenameVolume("a", ""));

  ASSERT_TRUE(store->RenameVolume("a", "b"));
  auto volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 2u);
  EXPECT_EQ(volumes[0].name, "b");  // keeps its place in creation order
  EXPECT_EQ(volumes[0].live_table, "TA");

  ASSERT_TRUE(store->RemoveVolume("b"));
  auto again = store->RemoveVolume("b");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0].name, "c");

  // Both names are free again.
  ASSERT_TRUE(store->CreateVolume(Volume("a")));
  ASSERT_TRUE(store->CreateVolume(Volume("b")));
}

TEST_F(StateStoreTest, EventsKeepTheNewestInOrder) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateVolume(Volume("v")));
  ASSERT_TRUE(store->CreateVolume(Volume("w")));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->AddEvent("v", "tick", std::to_string(i)));
    ASSERT_TRUE(store->AddEvent("w", "tock", std::to_string(i)));
  }
  ASSERT_TRUE(store->AddEvent("", "daemon", "started"));
  EXPECT_FALSE(store->AddEvent("v", "", "no kind"));

  auto last3 = store->Events("v", 3);
  ASSERT_TRUE(last3);
  ASSERT_EQ(last3->size(), 3u);
  EXPECT_EQ((*last3)[0].detail, "7");
  EXPECT_EQ((*last3)[1].detail, "8");
  EXPECT_EQ((*last3)[2].detail, "9");
  EXPECT_LE((*last3)[0].time, (*last3)[2].time);

  EXPECT_EQ(EventKinds(*store, "v").size(), 11u);  // create + 10 ticks, none of w's
  auto everything = store->Events("", 2);
  ASSERT_TRUE(everything);
  EXPECT_THAT(Kinds(*everything), ElementsAre("w:tock", ":daemon"));
  auto none = store->Events("v", 0);
  EXPECT_TRUE(none && none->empty());
}

TEST_F(StateStoreTest, EventsSurviveRenameAndRemove) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateVolume(Volume("a")));
  ASSERT_TRUE(store->AddEvent("a", "note", "as a"));
  ASSERT_TRUE(store->RenameVolume("a", "b"));
  ASSERT_TRUE(store->AddEvent("b", "note", "as b"));

  // The volume's whole history follows it; each event keeps the old name.
  auto of_b = store->Events("b", 100);
  ASSERT_TRUE(of_b);
  EXPECT_THAT(Kinds(*of_b), ElementsAre("a:create", "a:note", "a:rename", "b:note"));
  EXPECT_EQ((*of_b)[2].detail, "to 'b'");
  EXPECT_THAT(EventKinds(*store, "a"), ElementsAre("a:create", "a:note", "a:rename"));

  ASSERT_TRUE(store->RemoveVolume("b"));
  EXPECT_THAT(EventKinds(*store, "b"), ElementsAre("b:note", "b:remove"));
  EXPECT_THAT(EventKinds(*store, "a"), ElementsAre("a:create", "a:note", "a:rename"));

  // A new volume under an old name adds to that name's history.
  ASSERT_TRUE(store->CreateVolume(Volume("a")));
  EXPECT_THAT(EventKinds(*store, "a"), ElementsAre("a:create", "a:note", "a:rename", "a:create"));
}

TEST_F(StateStoreTest, TransactionIsAllOrNothing) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto failed = store->Transaction([&]() -> Status {
    if (auto st = store->CreateVolume(Volume("x")); !st) return st;
    if (auto st = store->SetInactiveTable("x", "T"); !st) return st;
    return Fail(ErrorCode::kIo, EIO, "backing file vanished");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "backing file vanished");
  EXPECT_TRUE(Load(*store).empty());
  EXPECT_THAT(EventKinds(*store, ""), ElementsAre());

  // A failed step inside a committed transaction undoes only itself.
  ASSERT_TRUE(store->Transaction([&]() -> Status {
    if (auto st = store->CreateVolume(Volume("x")); !st) return st;
    EXPECT_FALSE(store->CreateVolume(Volume("x")));
    return store->SetInactiveTable("x", "T");
  }));
  auto volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0].inactive_table, "T");
  EXPECT_THAT(EventKinds(*store, "x"), ElementsAre("x:create", "x:load"));
}

TEST_F(StateStoreTest, ReopenKeepsEverything) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    VolumeRecord v = Volume("v", "T1");
    v.uuid = "U";
    v.barrier_mode = "ordered";
    ASSERT_TRUE(store->CreateVolume(v));
    ASSERT_TRUE(store->SetInactiveTable("v", "T2"));
    ASSERT_TRUE(store->CreateVolume(Volume("w")));
    ASSERT_TRUE(store->RenameVolume("w", "w2"));
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 2u);
  EXPECT_EQ(volumes[0].name, "v");
  EXPECT_EQ(volumes[0].uuid, "U");
  EXPECT_EQ(volumes[0].barrier_mode, "ordered");
  EXPECT_EQ(volumes[0].live_table, "T1");
  EXPECT_EQ(volumes[0].inactive_table, "T2");
  EXPECT_EQ(volumes[1].name, "w2");
  EXPECT_THAT(EventKinds(*store, ""), ElementsAre("v:create", "v:load", "w:create", "w:rename"));
}

TEST_F(StateStoreTest, EmbeddedMigrationsAreNumberedFromOne) {
  auto migrations = EmbeddedMigrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations[0].name, "initial");
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
    EXPECT_THAT(std::string(migrations[i].sql), HasSubstr("CREATE"));
  }
  EXPECT_EQ(NewestSchemaVersion(), static_cast<int>(migrations.size()));
}

TEST_F(StateStoreTest, MigratesEmptyDatabaseAtVersionZero) {
  {
    RawDb raw(path_);
    raw.Exec("CREATE TABLE scratch (x); DROP TABLE scratch");
    EXPECT_EQ(raw.Query("PRAGMA user_version"), "0");
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateVolume(Volume("v", "T")));
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA user_version"), std::to_string(NewestSchemaVersion()));
  EXPECT_EQ(raw.Query("SELECT live_table FROM volumes WHERE name = 'v'"), "T");
}

TEST_F(StateStoreTest, MigratesZeroLengthFile) {
  WriteFile(path_, "");
  auto store = OpenStore();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->CreateVolume(Volume("v")));
}

TEST_F(StateStoreTest, RefusesDatabaseFromNewerUdm) {
  {
    RawDb raw(path_);
    raw.Exec("CREATE TABLE future (x); PRAGMA user_version = 9999");
  }
  Error error = OpenError();
  EXPECT_EQ(error.code, ErrorCode::kUnsupported);
  std::string newer = fmt::format("was written by a newer udm (schema 9999, this udm knows {})",
                                  NewestSchemaVersion());
  EXPECT_THAT(error.message, AllOf(HasSubstr(path_), HasSubstr(newer)));
  // Left exactly as the newer udm wrote it.
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA user_version"), "9999");
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.Query("SELECT count(*) FROM sqlite_master WHERE name = 'volumes'"), "0");
}

TEST_F(StateStoreTest, RefusesFileThatIsNotADatabase) {
  std::string garbage;
  for (int i = 0; i < 2000; ++i) garbage += "not sqlite ";
  WriteFile(path_, garbage);
  Error error = OpenError();
  EXPECT_EQ(error.code, ErrorCode::kIo);
  EXPECT_THAT(error.message, AllOf(HasSubstr(path_), HasSubstr("not a database")));
  std::ifstream file(path_, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage);  // never "repaired" by starting afresh
}

TEST_F(StateStoreTest, RefusesCorruptDatabase) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(store->CreateVolume(Volume(fmt::format("v{}", i), std::string(300, 'x'))));
    }
  }
  ASSERT_FALSE(std::filesystem::exists(path_ + "-wal") &&
               std::filesystem::file_size(path_ + "-wal") > 0);
  // Keep the header page; smash the b-tree pages after it.
  WriteFile(path_, std::string(4096 * 3, '\x5a'), 4096);
  Error error = OpenError();
  EXPECT_EQ(error.code, ErrorCode::kIo);
  EXPECT_THAT(error.message, AllOf(HasSubstr(path_), HasSubstr("corrupt")));
}

TEST_F(StateStoreTest, LockedDatabaseFailsWithinSeconds) {
  RawDb raw(path_);
  raw.Exec("CREATE TABLE other (x); BEGIN EXCLUSIVE; INSERT INTO other VALUES (1)");
  auto start = std::chrono::steady_clock::now();
  Error error = OpenError();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_EQ(error.code, ErrorCode::kBusy);
  EXPECT_THAT(error.message, AllOf(HasSubstr(path_), HasSubstr("locked")));
}

TEST_F(StateStoreTest, LockedWalDatabaseFailsWithinSeconds) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->CreateVolume(Volume("v")));
  }
  {
    RawDb raw(path_);
    raw.Exec("BEGIN EXCLUSIVE; INSERT INTO events (volume_name, time, kind) VALUES ('', '', 'x')");
    auto start = std::chrono::steady_clock::now();
    Error error = OpenError();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
    EXPECT_EQ(error.code, ErrorCode::kBusy);
    EXPECT_THAT(error.message, AllOf(HasSubstr(path_), HasSubstr("locked")));
  }
  auto store = OpenStore();  // the other connection is gone (rolled back)
  ASSERT_TRUE(store);
  EXPECT_EQ(Load(*store).size(), 1u);
}

TEST_F(StateStoreTest, SecondOpenOfTheSameDatabaseIsBusy) {
  auto first = OpenStore();
  ASSERT_TRUE(first);
  Error error = OpenError();
  EXPECT_EQ(error.code, ErrorCode::kBusy);
  EXPECT_EQ(error.message, fmt::format("state database {} is in use by another udmd (pid {})",
                                       path_, getpid()));
  first.reset();
  EXPECT_TRUE(OpenStore());
}

TEST_F(StateStoreTest, UsesWriteAheadLogAndPrivateFiles) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->CreateVolume(Volume("v")));
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "wal");
  using std::filesystem::perms;
  for (const std::string& file : {path_, path_ + "-wal", path_ + ".lock"}) {
    EXPECT_EQ(std::filesystem::status(file).permissions() & perms::all,
              perms::owner_read | perms::owner_write)
        << file;
  }
}

TEST_F(StateStoreTest, AcknowledgedChangesSurviveKill9) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    auto store = StateStore::Open(path_);
    bool ok = store && (*store)->CreateVolume(Volume("v", "0 8 zero")) &&
              (*store)->SetInactiveTable("v", "0 16 zero") && (*store)->AddEvent("v", "note", "x");
    if (ok && write(ready[1], "R", 1) == 1) {
      for (;;) pause();  // acknowledged; wait for SIGKILL
    }
    _exit(1);
  }
  close(ready[1]);
  char c = 0;
  ssize_t n = read(ready[0], &c, 1);
  close(ready[0]);
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(n, 1) << "the child could not set up its store";
  ASSERT_TRUE(WIFSIGNALED(status));
  // Nothing was checkpointed: the changes live only in the WAL.
  ASSERT_TRUE(std::filesystem::exists(path_ + "-wal"));
  EXPECT_GT(std::filesystem::file_size(path_ + "-wal"), 0u);

  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto volumes = Load(*store);
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0].live_table, "0 8 zero");
  EXPECT_EQ(volumes[0].inactive_table, "0 16 zero");
  EXPECT_THAT(EventKinds(*store, "v"), ElementsAre("v:create", "v:load", "v:note"));
}

// Runs in a forked child: the file size limit makes SQLite's writes fail
// the way a full disk does; returns the exit status for EXPECT_EXIT.
int WriteWhileTheDiskIsFull(const std::string& path) {
  signal(SIGXFSZ, SIG_IGN);
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "FAILED: %s\n", why.c_str());
    return 1;
  };
  auto store = StateStore::Open(path);
  if (!store) return fail(store.error().message);
  if (!(*store)->CreateVolume(VolumeRecord{"v", "", false, "flush", "", "T1", std::nullopt})) {
    return fail("create");
  }
  rlimit limit{};
  getrlimit(RLIMIT_FSIZE, &limit);
  rlimit small = limit;
  small.rlim_cur = 256 * 1024;
  if (setrlimit(RLIMIT_FSIZE, &small) != 0) return fail("setrlimit");
  const std::string big(4 << 20, 't');
  auto full = (*store)->SetLiveTable("v", big);
  if (full) return fail("a write past the size limit succeeded");
  if (full.error().code != ErrorCode::kIo) return fail("not kIo: " + full.error().message);
  std::fprintf(stderr, "disk full: %s\n", full.error().message.c_str());
  // Nothing changed, and the store keeps working once there is space.
  auto volumes = (*store)->LoadVolumes();
  if (!volumes || volumes->size() != 1 || (*volumes)[0].live_table != "T1") {
    return fail("the failed write changed the store");
  }
  auto events = (*store)->Events("v", 10);
  if (!events || events->size() != 1) return fail("the failed write recorded an event");
  setrlimit(RLIMIT_FSIZE, &limit);
  if (auto st = (*store)->SetLiveTable("v", big); !st) return fail(st.error().message);
  store->reset();
  auto reopened = StateStore::Open(path);
  if (!reopened) return fail(reopened.error().message);
  volumes = (*reopened)->LoadVolumes();
  if (!volumes || volumes->size() != 1 || (*volumes)[0].live_table != big) {
    return fail("the retried write is missing after reopening");
  }
  return 0;
}

TEST_F(StateStoreTest, FullDiskFailsTheWriteAndChangesNothing) {
  EXPECT_EXIT(_exit(WriteWhileTheDiskIsFull(path_)), ::testing::ExitedWithCode(0),
              "disk full: state database .*udm.db: set live table of volume 'v': .*");
}

TEST_F(StateStoreTest, ConcurrentWritersAllLand) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 10; ++i) {
        std::string name = fmt::format("t{}-{}", t, i);
        EXPECT_TRUE(store->CreateVolume(Volume(name)));
        EXPECT_TRUE(store->SetInactiveTable(name, "T"));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(Load(*store).size(), 40u);
  EXPECT_EQ(EventKinds(*store, "").size(), 80u);
}

}  // namespace
}  // namespace udm::daemon
