// handler.h — DouyuHandler: the typed alternative to a plain callback. Override what you need;
// every message reaches exactly one on_* method (on_other for every type without one, known or
// unknown), so nothing is dropped. Runs on the client's worker thread.
#pragma once

#include "douyu/protocol/message.h"
#include "douyu/protocol/typed_messages.h"

namespace asyncore::douyu {

class DouyuHandler {
 public:
  virtual ~DouyuHandler() = default;

  virtual void on_chat(const ChatMsg&, const Message&) {}
  virtual void on_gift(const Gift&, const Message&) {}
  virtual void on_gift_broadcast(const GiftBroadcast&, const Message&) {}
  virtual void on_user_enter(const UserEnter&, const Message&) {}
  virtual void on_room_status(const RoomStatus&, const Message&) {}
  virtual void on_rank_list(const RankList&, const Message&) {}
  virtual void on_login(const LoginResponse&, const Message&) {}
  virtual void on_server_error(const ServerError&, const Message&) {}
  virtual void on_heartbeat(const Message&) {}
  // Everything else: the other typed views (ssd, anbc, blab, …) and every unknown type.
  virtual void on_other(const Message&) {}

  // Routes `message` to the method for its type.
  void dispatch(const Message& message);
};

}  // namespace asyncore::douyu
