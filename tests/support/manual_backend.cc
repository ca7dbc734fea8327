// ManualBackend: held requests released by the test.
#include "support/manual_backend.h"

#include <chrono>

namespace udm::test {

ManualBackend::ManualBackend(std::string name, uint64_t sectors)
    : memory_(std::move(name), sectors) {}

void ManualBackend::Submit(Bio* bio) {
  SeenIo s;
  s.op = bio->op;
  s.flags = bio->flags;
  s.sector = bio->sector;
  s.sectors = bio->sectors;
  if (bio->op == Op::kWrite && bio->sectors > 0) CopyFromBio(*bio, 0, &s.first_byte, 1);
  bool now;
  {
    std::lock_guard<std::mutex> g(mu_);
    s.id = seen_.size();
    seen_.push_back(s);
    now = pass_through_;
    if (!now) held_.push_back(HeldIo{s, bio});
  }
  cv_.notify_all();
  if (now) Execute(bio, 0);
}

void ManualBackend::Execute(Bio* bio, int status) {
  if (status != 0) {
    bio->Complete(status);
    return;
  }
  memory_.Submit(bio);  // applies the data and completes
}

void ManualBackend::SetPassThrough(bool on) {
  std::lock_guard<std::mutex> g(mu_);
  pass_through_ = on;
}

std::vector<SeenIo> ManualBackend::Seen() const {
  std::lock_guard<std::mutex> g(mu_);
  return seen_;
}

std::vector<SeenIo> ManualBackend::Held() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<SeenIo> out;
  for (const auto& h : held_) out.push_back(h.seen);
  return out;
}

bool ManualBackend::WaitHeld(size_t n, int timeout_ms) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return held_.size() >= n; });
}

bool ManualBackend::WaitSeen(size_t n, int timeout_ms) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return seen_.size() >= n; });
}

bool ManualBackend::Release(uint64_t id, int status) {
  return ReleaseIf([id](const SeenIo& s) { return s.id == id; }, status) == 1;
}

size_t ManualBackend::ReleaseIf(const std::function<bool(const SeenIo&)>& pred, int status) {
  std::vector<Bio*> released;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = held_.begin(); it != held_.end();) {
      if (pred(it->seen)) {
        released.push_back(it->bio);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Bio* b : released) Execute(b, status);
  return released.size();
}

size_t ManualBackend::ReleaseAll(int status) {
  return ReleaseIf([](const SeenIo&) { return true; }, status);
}

}  // namespace udm::test
