#include "douyu/simulator/synthetic.h"

#include <array>

#include "douyu/protocol/packet.h"
#include "douyu/protocol/stt.h"

namespace asyncore::douyu {

namespace {

constexpr std::array<std::string_view, 24> kPhrases = {"666",
                                                       "主播好厉害",
                                                       "哈哈哈哈哈",
                                                       "前排",
                                                       "这波操作可以",
                                                       "下次一定",
                                                       "😂😂😂",
                                                       "🔥🔥",
                                                       "好家伙",
                                                       "awsl",
                                                       "主播晚上好👋",
                                                       "来了来了",
                                                       "这是什么神仙操作",
                                                       "弹幕护体",
                                                       "爷青回",
                                                       "gg",
                                                       "冲冲冲🚀",
                                                       "太难了吧",
                                                       "笑死我了🤣",
                                                       "稳住我们能赢",
                                                       "学到了",
                                                       "？？？",
                                                       "牛啤",
                                                       "求BGM"};
constexpr std::array<std::string_view, 16> kNickParts = {
    "小",    "大",     "快乐的", "孤独的", "星河", "月亮", "猫", "鱼",
    "Lucky", "dragon", "_",      "丶",     "🌙",    "King", "喵", "阿"};
constexpr std::array<std::string_view, 8> kBadges = {"鱼丸", "火箭队", "小星星", "猫窝",
                                                     "Team", "大佬团", "🐟",      "夜猫子"};
constexpr std::array<std::string_view, 6> kGiftNames = {"火箭",   "飞机", "超级火箭",
                                                        "嘉年华", "办卡", "鱼丸"};
constexpr std::array<std::string_view, 6> kUnknownTypes = {
    "synexp", "qausrespond", "gbroadcast", "lucky_wheel_star_pool", "wiru", "frank_update"};

std::string_view pick(uint64_t r, const auto& pool) { return pool[r % pool.size()]; }

}  // namespace

SyntheticRoom::SyntheticRoom(uint64_t seed, int64_t room_id)
    : state_(seed * 0x9E3779B97F4A7C15ull + 1), room_id_(room_id) {}

uint64_t SyntheticRoom::next() {  // splitmix64
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t SyntheticRoom::uid() { return 10000000 + static_cast<int64_t>(below(90000000)); }

std::string SyntheticRoom::nickname() {
  std::string nn;
  const size_t parts = 1 + below(3);
  for (size_t i = 0; i < parts; ++i) {
    nn.append(pick(next(), kNickParts));
  }
  if (below(3) == 0) {
    nn.append(std::to_string(below(10000)));
  }
  return nn;
}

std::string SyntheticRoom::chat_text() {
  std::string txt;
  const uint64_t r = below(100);
  if (r < 8) {
    txt.append("@").append(nickname()).append(" ");  // a mention: needs escaping
  }
  const size_t phrases = 1 + below(3);
  for (size_t i = 0; i < phrases; ++i) {
    if (i > 0) {
      txt.push_back(' ');
    }
    txt.append(pick(next(), kPhrases));
  }
  if (r >= 95) {
    txt.append(" https://www.douyu.com/9999?from=share/");  // a URL with '/'
  }
  return txt;
}

std::string SyntheticRoom::avatar() {
  // Real avatar paths contain '/', so they travel escaped (@S).
  return "avatar_v3/20" + std::to_string(18 + below(6)) + "0" + std::to_string(1 + below(9)) + "/" +
         std::to_string(next() % 0xffffffffffull) + "_big";
}

std::string SyntheticRoom::chatmsg() {
  tick_ms_ += static_cast<int64_t>(below(200));
  SttWriter w(512);
  w.add("type", "chatmsg").add("rid", room_id_).add("ct", static_cast<int64_t>(below(3)));
  w.add("uid", uid()).add("nn", nickname()).add("txt", chat_text());
  w.add("cid", "c" + std::to_string(++cid_) + "a8f1b2e3d4c5b6a70000000000000000");
  w.add("ic", avatar()).add("level", static_cast<int64_t>(1 + below(60)));
  w.add("sahf", 0).add("cst", tick_ms_);
  const uint64_t col = below(10);
  if (col < 6) {
    w.add("col", static_cast<int64_t>(col + 1));
  }
  if (below(2) == 0) {
    w.add("bnn", pick(next(), kBadges)).add("bl", static_cast<int64_t>(1 + below(30)));
    w.add("brid", room_id_).add("hc", "d0e1f2a3b4c5");
  }
  if (below(8) == 0) {
    w.add("nl", static_cast<int64_t>(1 + below(7)));
  }
  // el: a nested list of maps (effects); empty for most messages.
  if (below(10) == 0) {
    SttWriter e;
    e.add("eid", static_cast<int64_t>(1500000000 + below(1000))).add("etp", 1).add("sc", 1);
    SttWriter el;
    el.add_item(e.str());
    w.add("el", el.str());
  } else {
    w.add("el", "");
  }
  w.add("lk", "").add("fl", "").add("dms", static_cast<int64_t>(below(9))).add("pdg", 0);
  w.add("pdk", 0).add("ext", "");
  return std::move(w).str();
}

std::string SyntheticRoom::uenter() {
  SttWriter w(256);
  w.add("type", "uenter").add("rid", room_id_).add("uid", uid()).add("nn", nickname());
  w.add("str", static_cast<int64_t>(below(100000)))
      .add("level", static_cast<int64_t>(1 + below(60)));
  w.add("gt", 0).add("rg", 1).add("ic", avatar()).add("nl", static_cast<int64_t>(below(8)));
  w.add("rni", 0).add("el", "").add("sahf", 0).add("wgei", 0);
  return std::move(w).str();
}

std::string SyntheticRoom::dgb() {
  // Combos: the same sender often repeats the same gift with rising hits.
  if (combo_hits_ == 0 || below(3) == 0) {
    combo_gift_ = 20000 + static_cast<int64_t>(below(600));
    combo_uid_ = uid();
    combo_hits_ = 0;
  }
  ++combo_hits_;
  SttWriter w(320);
  w.add("type", "dgb").add("rid", room_id_).add("gfid", combo_gift_).add("gs", 0);
  w.add("uid", combo_uid_).add("nn", nickname()).add("str", static_cast<int64_t>(below(999999)));
  w.add("level", static_cast<int64_t>(1 + below(60))).add("dw", 0);
  w.add("gfcnt", static_cast<int64_t>(1 + (below(5) == 0 ? below(99) : 0)));
  w.add("hits", combo_hits_).add("bcnt", combo_hits_).add("bst", 0).add("ct", 0);
  w.add("el", "").add("cm", 0).add("bnn", pick(next(), kBadges));
  w.add("bl", static_cast<int64_t>(1 + below(30))).add("brid", room_id_).add("hc", "a1b2c3d4");
  w.add("sahf", 0).add("ic", avatar()).add("nl", static_cast<int64_t>(below(8)));
  return std::move(w).str();
}

std::string SyntheticRoom::spbc() {
  SttWriter w(256);
  w.add("type", "spbc").add("sn", nickname()).add("dn", nickname());
  w.add("gn", pick(next(), kGiftNames)).add("gc", static_cast<int64_t>(1 + below(10)));
  w.add("drid", room_id_ + static_cast<int64_t>(below(3))).add("gs", 1).add("gb", 1);
  w.add("es", 1).add("gfid", static_cast<int64_t>(20000 + below(600))).add("eid", 0);
  w.add("bgl", 3).add("ifs", 0).add("rid", room_id_).add("gid", -9999);
  return std::move(w).str();
}

std::string SyntheticRoom::rss() {
  const bool live = below(2) == 0;
  SttWriter w;
  w.add("type", "rss").add("rid", room_id_).add("gid", 0).add("ss", live ? 1 : 0);
  w.add("code", 0).add("rt", 0).add("notify", 0).add("endtime", live ? 0 : tick_ms_ / 1000);
  return std::move(w).str();
}

std::string SyntheticRoom::bc_buy_deserve() {
  SttWriter sui;
  sui.add("id", uid()).add("name", "").add("nick", nickname()).add("icon", avatar());
  sui.add("level", static_cast<int64_t>(1 + below(60))).add("rg", 1).add("bnn", "");
  SttWriter w;
  w.add("type", "bc_buy_deserve").add("rid", room_id_).add("gid", -9999);
  w.add("level", static_cast<int64_t>(1 + below(3)))
      .add("cnt", static_cast<int64_t>(1 + below(10)));
  w.add("hits", static_cast<int64_t>(1 + below(30))).add("lev", static_cast<int64_t>(1 + below(3)));
  w.add("sui", sui.str());
  return std::move(w).str();
}

std::string SyntheticRoom::ssd() {
  SttWriter w;
  w.add("type", "ssd").add("rid", room_id_).add("gid", -9999);
  w.add("sdid", static_cast<int64_t>(below(100000))).add("trid", room_id_ + 1);
  w.add("content", "超级弹幕：" + chat_text());
  return std::move(w).str();
}

std::string SyntheticRoom::anbc() {
  SttWriter w;
  w.add("type", "anbc").add("uid", uid()).add("unk", nickname()).add("uic", avatar());
  w.add("drid", room_id_).add("donk", nickname()).add("nl", static_cast<int64_t>(1 + below(7)));
  return std::move(w).str();
}

std::string SyntheticRoom::rnewbc() {
  SttWriter w;
  w.add("type", "rnewbc").add("uid", uid()).add("unk", nickname()).add("uic", avatar());
  w.add("drid", room_id_).add("donk", nickname()).add("nl", static_cast<int64_t>(1 + below(7)));
  return std::move(w).str();
}

std::string SyntheticRoom::blab() {
  SttWriter w;
  w.add("type", "blab").add("uid", uid()).add("nn", nickname());
  w.add("lbl", static_cast<int64_t>(below(20))).add("bl", static_cast<int64_t>(1 + below(30)));
  w.add("ba", 1).add("bnn", pick(next(), kBadges)).add("rid", room_id_);
  return std::move(w).str();
}

std::string SyntheticRoom::upgrade() {
  SttWriter w;
  w.add("type", "upgrade").add("rid", room_id_).add("uid", uid()).add("nn", nickname());
  w.add("level", static_cast<int64_t>(2 + below(60))).add("ic", avatar());
  return std::move(w).str();
}

std::string SyntheticRoom::rank_list(size_t entries) {
  SttWriter list(entries * 96);
  for (size_t i = 0; i < entries; ++i) {
    SttWriter e;
    e.add("uid", uid()).add("nn", nickname()).add("ic", avatar());
    e.add("lev", static_cast<int64_t>(1 + below(7))).add("num", static_cast<int64_t>(below(1000)));
    e.add("rk", static_cast<int64_t>(i + 1));
    list.add_item(e.str());
  }
  return std::move(list).str();
}

std::string SyntheticRoom::noble_num_info() {
  const size_t n = 1 + below(7);
  SttWriter w;
  w.add("type", "noble_num_info").add("sum", static_cast<int64_t>(n * 3)).add("vn", 0);
  w.add("rid", room_id_).add("list", rank_list(n));
  return std::move(w).str();
}

std::string SyntheticRoom::frank() {
  SttWriter w;
  w.add("type", "frank")
      .add("fc", static_cast<int64_t>(below(5000)))
      .add("bnn", pick(next(), kBadges));
  w.add("ver", 0).add("rid", room_id_).add("list", rank_list(10));
  return std::move(w).str();
}

std::string SyntheticRoom::fswrank() {
  SttWriter w;
  w.add("type", "fswrank").add("rid", room_id_).add("bnn", pick(next(), kBadges));
  w.add("list", rank_list(5));
  return std::move(w).str();
}

std::string SyntheticRoom::ranklist() {
  SttWriter w;
  w.add("type", "ranklist").add("ver", 0).add("rid", room_id_);
  w.add("list", rank_list(10)).add("list_all", rank_list(10)).add("list_day", rank_list(5));
  return std::move(w).str();
}

std::string SyntheticRoom::loginres() {
  SttWriter w;
  w.add("type", "loginres").add("userid", 0).add("roomgroup", 0).add("pg", 0);
  w.add("sessionid", 0).add("username", "").add("nickname", "").add("live_stat", 0);
  w.add("is_illegal", 0).add("ill_ct", "").add("ill_ts", 0).add("now", tick_ms_ / 1000);
  w.add("ps", 0).add("es", 0).add("it", 0).add("its", 0).add("npv", 0).add("best_dlev", 0);
  w.add("cur_lev", 0).add("nrc", 0).add("ih", 0).add("sid", 0).add("sahf", 0);
  return std::move(w).str();
}

std::string SyntheticRoom::pingreq() {
  return std::move(SttWriter().add("type", "pingreq").add("tick", tick_ms_)).str();
}

std::string SyntheticRoom::mrkl() { return "type@=mrkl/"; }

std::string SyntheticRoom::unknown() {
  SttWriter w;
  w.add("type", pick(next(), kUnknownTypes)).add("rid", room_id_).add("gid", -9999);
  w.add("data", R"({"k":"v","n":[1,2,3]})").add("note", "line1\nline2");
  return std::move(w).str();
}

std::string SyntheticRoom::next_body() {
  const uint64_t r = below(1000);
  if (r < 550) {
    return chatmsg();
  }
  if (r < 750) {
    return uenter();
  }
  if (r < 890) {
    return dgb();
  }
  if (r < 910) {
    return spbc();
  }
  if (r < 920) {
    return noble_num_info();
  }
  if (r < 928) {
    return frank();
  }
  if (r < 932) {
    return fswrank();
  }
  if (r < 935) {
    return ranklist();
  }
  if (r < 945) {
    return blab();
  }
  if (r < 955) {
    return upgrade();
  }
  if (r < 960) {
    return ssd();
  }
  if (r < 963) {
    return anbc();
  }
  if (r < 966) {
    return rnewbc();
  }
  if (r < 970) {
    return bc_buy_deserve();
  }
  if (r < 972) {
    return rss();
  }
  if (r < 980) {
    return pingreq();
  }
  if (r < 985) {
    return mrkl();
  }
  return unknown();
}

void SyntheticRoom::append_frames(std::string& out, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    append_frame(out, next_body(), kServerToClient);
  }
}

}  // namespace asyncore::douyu
