// PodBuffer<T>: a growable array of plain data (bytes, RawFields) that its user writes into in
// place, past size(), then commits with set_size(). Unlike std::vector and std::string it does not
// initialise what it reserves: the read path receives straight into one (FrameBatch's bytes) and
// the scanner builds each field in its final place (stt_decode_fields_in_place) — a vector's
// reserved room cannot be written, and growing it with resize() would zero every byte first.
// T must be an implicit-lifetime, trivially copyable type (malloc'd storage, realloc to grow).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

namespace asyncore::douyu {

template <class T>
class PodBuffer {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  PodBuffer() = default;
  PodBuffer(const PodBuffer&) = delete;
  PodBuffer& operator=(const PodBuffer&) = delete;
  PodBuffer(PodBuffer&& other) noexcept { swap(other); }
  PodBuffer& operator=(PodBuffer&& other) noexcept {
    PodBuffer(std::move(other)).swap(*this);
    return *this;
  }
  ~PodBuffer() { std::free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // Capacity of exactly `n` when it is below (no rounding up: the read path sizes its batches).
  void reserve(size_t n) {
    if (n > capacity_) reallocate(n);
  }
  // Room for `n` more past size(); capacity at least doubles when it grows.
  void reserve_more(size_t n) {
    if (size_ + n > capacity_) reallocate(std::max(size_ + n, 2 * capacity_));
  }
  // After writing in place past size() (within capacity()).
  void set_size(size_t n) { size_ = n; }
  // Appends a copy of [p, p + n).
  void append(const T* p, size_t n) {
    reserve_more(n);
    std::copy(p, p + n, data_ + size_);
    size_ += n;
  }
  void swap(PodBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  void reallocate(size_t capacity) {
    void* grown = std::realloc(data_, capacity * sizeof(T));
    if (grown == nullptr) throw std::bad_alloc();
    data_ = static_cast<T*>(grown);
    capacity_ = capacity;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace asyncore::douyu
