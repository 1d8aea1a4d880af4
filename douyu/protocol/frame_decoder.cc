#include "douyu/protocol/frame_decoder.h"

#include <cstdio>

namespace asyncore::douyu {

const char* frame_error_name(FrameError error) {
  switch (error) {
    case FrameError::kNone:
      return "none";
    case FrameError::kLengthTooSmall:
      return "length_too_small";
    case FrameError::kLengthTooLarge:
      return "length_too_large";
    case FrameError::kLengthMismatch:
      return "length_mismatch";
    case FrameError::kUnexpectedType:
      return "unexpected_type";
    case FrameError::kNonZeroEncrypt:
      return "nonzero_encrypt";
    case FrameError::kNonZeroReserved:
      return "nonzero_reserved";
    case FrameError::kMissingNul:
      return "missing_nul";
  }
  return "unknown";
}

uint32_t FrameDecoder::read_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

void FrameDecoder::fail(FrameError error, const std::string& message) {
  error_ = error;
  error_message_ = "frame at offset " + std::to_string(offset_) + ": " + message;
  buffer_.clear();
  buffer_.shrink_to_fit();
}

bool FrameDecoder::check_header(const char* p, size_t n) {
  if (n < 4) {
    return true;
  }
  const uint32_t length = read_u32(p);
  if (length < kMinLength) {
    fail(FrameError::kLengthTooSmall,
         "length " + std::to_string(length) + " below minimum " + std::to_string(kMinLength));
    return false;
  }
  if (length > options_.max_length) {
    fail(FrameError::kLengthTooLarge, "length " + std::to_string(length) + " above maximum " +
                                          std::to_string(options_.max_length));
    return false;
  }
  if (n < 8) {
    return true;
  }
  const uint32_t again = read_u32(p + 4);
  if (again != length) {
    fail(FrameError::kLengthMismatch, "length " + std::to_string(length) +
                                          " differs from repeated length " + std::to_string(again));
    return false;
  }
  if (n < 10) {
    return true;
  }
  const uint16_t type =
      static_cast<uint16_t>(static_cast<uint8_t>(p[8]) | (static_cast<uint8_t>(p[9]) << 8));
  const bool type_ok = options_.expected_type
                           ? type == *options_.expected_type
                           : (type == kClientToServer || type == kServerToClient);
  if (!type_ok) {
    fail(FrameError::kUnexpectedType,
         "unexpected message type " + std::to_string(type) +
             (options_.expected_type ? " (expected " + std::to_string(*options_.expected_type) + ")"
                                     : std::string(" (expected 689 or 690)")));
    return false;
  }
  if (!options_.strict) {
    return true;
  }
  if (n >= 11 && p[10] != 0) {
    fail(FrameError::kNonZeroEncrypt,
         "encrypt byte " + std::to_string(static_cast<uint8_t>(p[10])) + " is not 0");
    return false;
  }
  if (n >= 12 && p[11] != 0) {
    fail(FrameError::kNonZeroReserved,
         "reserved byte " + std::to_string(static_cast<uint8_t>(p[11])) + " is not 0");
    return false;
  }
  return true;
}

bool FrameDecoder::check_nul(const char* p, size_t size) {
  const auto last = static_cast<uint8_t>(p[size - 1]);
  if (last != 0) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", last);
    fail(FrameError::kMissingNul, "body of " + std::to_string(size - kHeaderSize) +
                                      " bytes does not end with NUL (last byte " + hex + ")");
    return false;
  }
  return true;
}

void FrameDecoder::reset() {
  buffer_.clear();
  buffer_.shrink_to_fit();
  offset_ = 0;
  error_ = FrameError::kNone;
  error_message_.clear();
}

}  // namespace asyncore::douyu
