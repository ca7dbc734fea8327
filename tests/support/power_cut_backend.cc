// PowerCutBackend: volatile write cache, random completion order.
#include "support/power_cut_backend.h"

#include <algorithm>
#include <cstring>

namespace udm::test {

PowerCutBackend::PowerCutBackend(std::string name, uint64_t sectors, uint32_t seed)
    : name_(std::move(name)),
      sectors_(sectors),
      rng_(seed),
      current_(sectors << kSectorShift),
      durable_(sectors << kSectorShift) {
  thread_ = std::thread([this] { Run(); });
}

PowerCutBackend::~PowerCutBackend() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PowerCutBackend::Submit(Bio* bio) {
  if (bio->end_sector() > sectors_) {
    bio->Complete(-EIO);
    return;
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    Pending p{bio, 0};
    // A flush covers the writes that completed before it was submitted.
    if (bio->op == Op::kFlush || (bio->flags & kPreflush)) p.covers = completed_writes_;
    queue_.push_back(p);
  }
  cv_.notify_all();
}

size_t PowerCutBackend::queued() const {
  std::lock_guard<std::mutex> g(mu_);
  return queue_.size();
}

void PowerCutBackend::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    // Pick any queued request: completion order is arbitrary.
    std::uniform_int_distribution<size_t> pick(0, queue_.size() - 1);
    const size_t i = pick(rng_);
    Pending p = queue_[i];
    queue_.erase(queue_.begin() + static_cast<ptrdiff_t>(i));
    // After the power cut nothing reaches the medium any more.
    if (!dead_) Execute(p);
    const int status = dead_ ? -EIO : 0;
    l.unlock();
    p.bio->Complete(status);
    l.lock();
  }
}

// Applies `p` to the images; mu_ held.
void PowerCutBackend::Execute(Pending p) {
  Bio* bio = p.bio;
  if (bio->op == Op::kFlush || (bio->flags & kPreflush)) {
    std::vector<CachedWrite> keep;
    for (auto& w : cache_) {
      if (w.seq < p.covers) {
        std::memcpy(durable_.data() + w.offset, w.data.data(), w.data.size());
      } else {
        keep.push_back(std::move(w));
      }
    }
    cache_ = std::move(keep);
  }
  const uint64_t off = bio->sector << kSectorShift;
  switch (bio->op) {
    case Op::kRead: CopyToBio(*bio, 0, current_.data() + off, bio->bytes()); return;
    case Op::kFlush: return;
    case Op::kWrite:
    case Op::kDiscard:
    case Op::kWriteZeroes: break;
  }
  std::vector<uint8_t> data(bio->bytes());
  if (bio->op == Op::kWrite) CopyFromBio(*bio, 0, data.data(), data.size());
  std::memcpy(current_.data() + off, data.data(), data.size());
  if (bio->flags & kFua) {
    std::memcpy(durable_.data() + off, data.data(), data.size());
  } else {
    cache_.push_back(CachedWrite{completed_writes_, off, std::move(data)});
  }
  ++completed_writes_;
}

std::vector<std::vector<uint8_t>> PowerCutBackend::PowerCut(
    const std::vector<PowerCutBackend*>& devices, std::mt19937& rng) {
  // Every device's lock at once: nothing executes anywhere during the cut.
  std::vector<std::unique_lock<std::mutex>> locks;
  for (PowerCutBackend* d : devices) locks.emplace_back(d->mu_, std::defer_lock);
  for (auto& l : locks) l.lock();  // always in the caller's order: one cutter at a time
  std::vector<std::vector<uint8_t>> images;
  for (PowerCutBackend* d : devices) images.push_back(d->CutLocked(rng));
  locks.clear();
  for (PowerCutBackend* d : devices) d->cv_.notify_all();
  return images;
}

std::vector<uint8_t> PowerCutBackend::CutLocked(std::mt19937& rng) {
  dead_ = true;
  std::vector<uint8_t> image = durable_;
  std::vector<const CachedWrite*> order;
  for (const auto& w : cache_) order.push_back(&w);
  std::shuffle(order.begin(), order.end(), rng);
  std::bernoulli_distribution survives(0.5);
  for (const CachedWrite* w : order) {
    if (survives(rng)) std::memcpy(image.data() + w->offset, w->data.data(), w->data.size());
  }
  return image;
}

}  // namespace udm::test
