// layer.h — a protocol layer between a Dispatcher's recv()/send() and its byte stream.
//
// The transport stack of a Dispatcher (docs/TLS.md, "Transports"):
//
//   the user's Dispatcher / AsyncChat / DouyuClient   recv()/send() see the layer's payload
//     └─ StreamLayer (optional; e.g. WebSocket, client/websocket.h)
//         └─ TLS (optional; Dispatcher::start_tls_client/server)
//             └─ the socket
//
// Install one with Dispatcher::set_layer(). The dispatcher drives it: once the connection below
// is up (TCP connected, TLS handshake done) it calls start(), then handshake() on each readiness
// until it returns true, and only then handle_connect() (clients). While it handshakes the
// user's readable()/writable() do not arm the socket and no handle_read()/handle_write() runs.
// Afterwards recv()/send() go through read()/write(); the socket is watched for writing while
// wants_write() is true (whatever writable() says), and handle_read() is called while
// has_pending() is true even if the socket has nothing new. A layer serves one connection at a
// time; start() begins a new one, so a dispatcher that reconnects keeps its layer.
//
// Errors: a protocol violation (a bad frame, a refused upgrade, an oversized message) is a
// std::runtime_error thrown from handshake() or read(), whose text says what went wrong; the
// dispatcher routes it as any handler's exception (handle_error(), by default then
// handle_close()). A clean end (the peer's close message) is read() returning 0 with *err == 0.
//
// Everything runs on the loop's thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace asyncore {

// The byte stream a layer sits on: the socket, or TLS over it.
class ByteStream {
 public:
  // > 0: bytes read. 0: the stream ended (*err == 0) or broke (*err is the errno, ECONNRESET...).
  // -1: nothing to read now.
  virtual ssize_t read(void* buffer, size_t size, int* err) = 0;
  // Bytes written; 0 with *err == 0: would block (with TLS, offer the same bytes first next
  // time). 0 with *err != 0: the stream broke (the errno).
  virtual size_t write(const void* data, size_t size, int* err) = 0;

 protected:
  ~ByteStream() = default;
};

// The peer as the dispatcher knows it, for a client's opening bytes (e.g. HTTP's Host) and for
// error messages.
struct LayerPeer {
  std::string host;  // the host given to connect() (a name or an address literal)
  uint16_t port = 0;
  bool tls = false;  // TLS runs below this layer
};

class StreamLayer {
 public:
  virtual ~StreamLayer() = default;

  // A new connection below is up: forget any previous one and begin (a client queues its
  // opening bytes here).
  virtual void start(const LayerPeer& peer) = 0;
  // One handshake step, reading and writing `below` as far as it can without blocking: true
  // when the layer is established. Throws std::runtime_error when the handshake failed.
  virtual bool handshake(ByteStream& below) = 0;
  virtual bool established() const = 0;

  // Payload for the user, with ByteStream::read()'s contract; reads `below` as needed.
  virtual ssize_t read(ByteStream& below, void* buffer, size_t size, int* err) = 0;
  // Takes payload from the user: bytes accepted (0: not now, retry later; *err != 0: broken).
  virtual size_t write(ByteStream& below, const void* data, size_t size, int* err) = 0;
  // Writes what the layer has queued for `below` (frames, replies to control messages), as far
  // as it can without blocking. *err != 0: the stream broke.
  virtual void flush(ByteStream& below, int* err) = 0;

  // The layer has bytes queued for `below`: the socket is watched for writing.
  virtual bool wants_write() const = 0;
  // Payload already decoded, waiting for read(): handle_read() is due without socket readiness.
  virtual bool has_pending() const = 0;
  // The layer takes nothing more from `below` for now, e.g. its replies to the peer's pings wait
  // to be written: a peer that sends and never reads cannot grow memory. While true the socket
  // is not watched for reading (wants_write() keeps it watched for writing).
  virtual bool read_paused() const { return false; }

  // Begins the layer's graceful close (e.g. a WebSocket close message) and flushes it, best
  // effort, without blocking. Called by Dispatcher::shutdown_output() and close().
  virtual void shutdown(ByteStream& below) = 0;
};

}  // namespace asyncore
