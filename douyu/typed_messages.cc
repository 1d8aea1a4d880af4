#include "douyu/typed_messages.h"

namespace asyncore::douyu {

namespace {
std::string_view s(const Message& m, std::string_view key) { return m.get_or(key); }
int64_t i(const Message& m, std::string_view key) { return m.get_int_or(key, 0); }
}  // namespace

ChatMsg ChatMsg::from(const Message& m) {
  ChatMsg c;
  c.rid = s(m, "rid");
  c.uid = s(m, "uid");
  c.nn = s(m, "nn");
  c.txt = s(m, "txt");
  c.cid = s(m, "cid");
  c.ic = s(m, "ic");
  c.bnn = s(m, "bnn");
  c.brid = s(m, "brid");
  c.level = i(m, "level");
  c.col = i(m, "col");
  c.ct = i(m, "ct");
  c.nl = i(m, "nl");
  c.bl = i(m, "bl");
  c.cst = i(m, "cst");
  c.el = s(m, "el");
  return c;
}

UserEnter UserEnter::from(const Message& m) {
  UserEnter u;
  u.rid = s(m, "rid");
  u.uid = s(m, "uid");
  u.nn = s(m, "nn");
  u.ic = s(m, "ic");
  u.level = i(m, "level");
  u.nl = i(m, "nl");
  return u;
}

Gift Gift::from(const Message& m) {
  Gift g;
  g.rid = s(m, "rid");
  g.uid = s(m, "uid");
  g.nn = s(m, "nn");
  g.ic = s(m, "ic");
  g.bnn = s(m, "bnn");
  g.gfid = i(m, "gfid");
  g.gfcnt = i(m, "gfcnt");
  g.hits = i(m, "hits");
  g.level = i(m, "level");
  g.bl = i(m, "bl");
  g.bcnt = i(m, "bcnt");
  return g;
}

GiftBroadcast GiftBroadcast::from(const Message& m) {
  GiftBroadcast g;
  g.sn = s(m, "sn");
  g.dn = s(m, "dn");
  g.gn = s(m, "gn");
  g.drid = s(m, "drid");
  g.es = s(m, "es");
  g.gc = i(m, "gc");
  g.gfid = i(m, "gfid");
  return g;
}

RoomStatus RoomStatus::from(const Message& m) {
  RoomStatus r;
  r.rid = s(m, "rid");
  r.notify = s(m, "notify");
  r.ss = i(m, "ss");
  r.code = i(m, "code");
  r.rt = i(m, "rt");
  r.endtime = i(m, "endtime");
  return r;
}

BuyDeserve BuyDeserve::from(const Message& m) {
  BuyDeserve b;
  b.rid = s(m, "rid");
  b.level = i(m, "level");
  b.cnt = i(m, "cnt");
  b.hits = i(m, "hits");
  b.lev = i(m, "lev");
  b.sui = s(m, "sui");
  return b;
}

SuperBarrage SuperBarrage::from(const Message& m) {
  SuperBarrage b;
  b.rid = s(m, "rid");
  b.sdid = s(m, "sdid");
  b.trid = s(m, "trid");
  b.content = s(m, "content");
  return b;
}

namespace {
void fill_noble(NobleEvent& n, const Message& m) {
  n.uid = s(m, "uid");
  n.unk = s(m, "unk");
  n.drid = s(m, "drid");
  n.donk = s(m, "donk");
  n.nl = i(m, "nl");
}
}  // namespace

NobleOpen NobleOpen::from(const Message& m) {
  NobleOpen n;
  fill_noble(n, m);
  return n;
}

NobleRenew NobleRenew::from(const Message& m) {
  NobleRenew n;
  fill_noble(n, m);
  return n;
}

BadgeUp BadgeUp::from(const Message& m) {
  BadgeUp b;
  b.uid = s(m, "uid");
  b.nn = s(m, "nn");
  b.bnn = s(m, "bnn");
  b.bl = i(m, "bl");
  return b;
}

LevelUp LevelUp::from(const Message& m) {
  LevelUp l;
  l.uid = s(m, "uid");
  l.nn = s(m, "nn");
  l.level = i(m, "level");
  return l;
}

LoginResponse LoginResponse::from(const Message& m) {
  LoginResponse l;
  l.userid = s(m, "userid");
  l.roomgroup = s(m, "roomgroup");
  l.pg = s(m, "pg");
  l.sessionid = s(m, "sessionid");
  l.username = s(m, "username");
  l.nickname = s(m, "nickname");
  l.live_stat = i(m, "live_stat");
  return l;
}

ServerError ServerError::from(const Message& m) { return ServerError{i(m, "code")}; }

PingRequest PingRequest::from(const Message& m) { return PingRequest{i(m, "tick")}; }

bool RankList::is_rank_type(std::string_view type) {
  return type == "noble_num_info" || type == "frank" || type == "fswrank" || type == "ranklist";
}

RankList RankList::from(const Message& m) {
  RankList r;
  r.type = m.type();
  r.sum = i(m, "sum");
  r.list = m.get_map_list("list");
  return r;
}

TypedMessage view(const Message& m) {
  const std::string_view t = m.type();
  // Most frequent first: a room's stream is mostly chat, enters and gifts.
  if (t == ChatMsg::kType) {
    return ChatMsg::from(m);
  }
  if (t == UserEnter::kType) {
    return UserEnter::from(m);
  }
  if (t == Gift::kType) {
    return Gift::from(m);
  }
  if (t == GiftBroadcast::kType) {
    return GiftBroadcast::from(m);
  }
  if (t == RoomStatus::kType) {
    return RoomStatus::from(m);
  }
  if (t == BuyDeserve::kType) {
    return BuyDeserve::from(m);
  }
  if (t == SuperBarrage::kType) {
    return SuperBarrage::from(m);
  }
  if (t == NobleOpen::kType) {
    return NobleOpen::from(m);
  }
  if (t == NobleRenew::kType) {
    return NobleRenew::from(m);
  }
  if (t == BadgeUp::kType) {
    return BadgeUp::from(m);
  }
  if (t == LevelUp::kType) {
    return LevelUp::from(m);
  }
  if (t == LoginResponse::kType) {
    return LoginResponse::from(m);
  }
  if (t == ServerError::kType) {
    return ServerError::from(m);
  }
  if (t == PingRequest::kType) {
    return PingRequest::from(m);
  }
  if (t == Heartbeat::kType) {
    return Heartbeat::from(m);
  }
  if (RankList::is_rank_type(t)) {
    return RankList::from(m);
  }
  return GenericMessage{&m};
}

}  // namespace asyncore::douyu
