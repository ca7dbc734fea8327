// A crash state as a block device without copying anything: reads come
// from the checker's own writes (kept in memory), else from the state's
// writes (read from the log), else from the base image (read-only).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "crash_states.h"
#include "log_reader.h"
#include "udm/block_device.h"

namespace udm::crash {

// The image the log started from, opened read-only; shared by all states.
class BaseImage {
 public:
  static Result<std::shared_ptr<BaseImage>> Open(const std::string& path);
  ~BaseImage();
  uint64_t sectors() const { return sectors_; }
  const std::string& path() const { return path_; }
  Status Read(uint64_t offset, std::span<uint8_t> out) const;

 private:
  BaseImage(std::string path, int fd, uint64_t sectors)
      : path_(std::move(path)), fd_(fd), sectors_(sectors) {}
  const std::string path_;
  const int fd_;
  const uint64_t sectors_;
};

// Where each sector of a state comes from when no checker wrote it.
class StateImage {
 public:
  // Applies the state's writes in order. Fails if one ends past the base.
  static Result<std::shared_ptr<const StateImage>> Build(std::shared_ptr<const ParsedLog> log,
                                                         std::shared_ptr<const BaseImage> base,
                                                         const CrashState& state);
  uint64_t sectors() const { return base_->sectors(); }
  // Reads sectors [sector, sector + out.size() / 512).
  Status Read(uint64_t sector, std::span<uint8_t> out) const;

 private:
  static constexpr uint64_t kZero = UINT64_MAX;  // a discarded sector
  std::shared_ptr<const ParsedLog> log_;
  std::shared_ptr<const BaseImage> base_;
  std::unordered_map<uint64_t, uint64_t> map_;  // sector -> byte offset in the log, or kZero
};

class OverlayDevice : public BlockDevice {
 public:
  OverlayDevice(std::string name, std::shared_ptr<const StateImage> image)
      : name_(std::move(name)), image_(std::move(image)) {}
  // Completes inside Submit (reads of the base and log are synchronous).
  void Submit(Bio* bio) override;
  uint64_t sectors() const override { return image_->sectors(); }
  const std::string& name() const override { return name_; }
  std::string mode() const override { return "crash-state overlay"; }

 private:
  int Read(const Bio& bio);
  void Write(const Bio& bio, bool zero);

  const std::string name_;
  const std::shared_ptr<const StateImage> image_;
  std::mutex mu_;
  // The checker's own writes (journal replay, repairs); never reach a file.
  std::unordered_map<uint64_t, std::array<uint8_t, 512>> written_;  // guarded by mu_
};

}  // namespace udm::crash
