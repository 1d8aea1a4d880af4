// lazy_decode_attack_test.cc — attacks the receive path's lazy decoding, written from the public
// headers only (message.h, frame_batch.h, stt.h, message_worker.h, worker_pool.h, douyu_client.h)
// and the test helpers: a Message lent undecoded (Message::borrow_undecoded() through
// FrameBatch::lend(i, m, scratch)) must behave exactly like an owning Message(std::string(body))
// — its type() before and after decoding, every accessor, copies, moves, reassignment, re-lending
// — and the worker / client around it must deliver every message once, in order, whatever the
// callback reads. The reference for every body is tests/douyu/stt_reference.h (byte by byte).
// Nothing sleeps to synchronize: every wait is a condition with a deadline.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "douyu/client/douyu_client.h"
#include "douyu/client/message_worker.h"
#include "douyu/client/worker_pool.h"
#include "douyu/protocol/frame_batch.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"
#include "douyu/protocol/stt.h"
#include "tests/douyu/stt_reference.h"
#include "tests/douyu_session/client_test_util.h"
#include "tests/douyu_session/raw_server.h"

namespace asyncore::douyu::test {
namespace {

using Clock = std::chrono::steady_clock;
using Fields = std::vector<std::pair<std::string, std::string>>;

// ============================================================================================
// Reference and helpers
// ============================================================================================

struct Expected {
  Fields fields;
  std::string type;
};

// The byte-by-byte reference: fields unescaped, the type is the first field keyed "type".
Expected reference(std::string_view body) {
  Expected e;
  for (const RawField& f : testing::reference_scan_fields(body)) {
    e.fields.emplace_back(testing::reference_unescape(f.raw_key(body)),
                          testing::reference_unescape(f.raw_value(body)));
  }
  for (const auto& [k, v] : e.fields) {
    if (k == "type") {
      e.type = v;
      break;
    }
  }
  return e;
}

Fields fields_of(const Message& m) {
  Fields f;
  for (auto [k, v] : m.fields()) f.emplace_back(std::string(k), std::string(v));
  return f;
}

// A body printable in a failure message.
std::string describe(std::string_view body) {
  std::string out = "body \"";
  for (char c : body.substr(0, 200)) {
    if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  if (body.size() > 200) out += "...(" + std::to_string(body.size()) + " bytes)";
  return out + "\"";
}

void fill_unscanned(FrameBatch& batch, const std::vector<std::string>& bodies) {
  for (const auto& b : bodies) batch.add_unscanned(b);
}

// Waits (with a deadline) until `pred` holds; the short sleep only spares the shared CPU.
bool eventually(const std::function<bool()>& pred, double seconds = 20) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// The workload of a slow callback (not a synchronization).
void spin_for(std::chrono::microseconds us) {
  const auto until = Clock::now() + us;
  while (Clock::now() < until) {
  }
}

// Odd bodies: escapes, bare items, empty items, "@=" inside values, types that cannot be peeked.
const std::vector<std::string>& edge_bodies() {
  static const std::vector<std::string> bodies = {
      "type@=chatmsg/rid@=1/txt@=hi/",
      "type@=",
      "type@=/",
      "type@=x",
      "type@=x/",
      "type@=/a@=b/",
      "type@=a@=b/c@=d/",
      "type@=a@Ab/k@=v/",
      "type@=a@Sb/k@=v/",
      "type@=@/",
      "type@=@A/",
      "type@=@S/",
      "type@=abc@",
      "type@=a@b/",
      "type@=a@@=b/",
      "typ@Ae@=x/type@=y/",
      "a@=b/type@=c/",
      "/type@=x/",
      "//type@=x//",
      "@=/type@=q/",
      "type@=x/type@=y/",
      "bare/type@=z/",
      "type/",
      "",
      "/",
      "//",
      "@",
      "@=",
      "@=/",
      "type",
      "type@",
      "TYPE@=x/",
      "type @=x/",
      " type@=x/",
      "type@=chatmsg/txt@=a@=b@Ac@Sd/",
      "type@=chatmsg/k@Sey@=v@A/",
      "type@=chatmsg/@A@S@=@S@A/",
      "type@=chatmsg/txt@=/",
      "type@=chatmsg/@=/",
      "type@=chatmsg/bare/=x/@/",
      "type@=chatmsg/k@=v@",
      std::string("type@=nul\0x/k@=v\0w/", 19),
      std::string("type@=x/k\0@=\0/", 14),
      "type@=x/type@=x/type@=x/",
      "type@=dgb/list@=a@AS@AS/",
      "type@=x/a@=@=/",
      "type@=x/a@A=b/",
      "type@=x/ty@Spe@=y/",
      "type@=x/@@@/",
      "type@=x/@AA@SS/",
      "type@=x/@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A@A/",
      "type@=" + std::string(100, 'T') + "/k@=v/",
      "type@=" + std::string(100, 'T') + "@S/k@=v/",
      "type@=chatmsg/" + std::string(70, '/') + "k@=v/",
  };
  return bodies;
}

// Checks a lent Message against an owning one and the reference; reads the fields (decodes).
void expect_lent_like_owning(const Message& m, std::string_view body) {
  const Message owning{std::string(body)};
  const Expected want = reference(body);
  SCOPED_TRACE(describe(body));
  const auto peeked = Message::peek_type(body);
  if (peeked) {
    EXPECT_EQ(*peeked, want.type) << "peek_type disagrees with decoding";
  }
  EXPECT_EQ(m.decoded(), !peeked.has_value()) << "lent undecoded iff its type can be peeked";
  EXPECT_EQ(m.type(), owning.type()) << "type() before decoding";
  EXPECT_EQ(m.type(), want.type) << "type() before decoding (reference)";
  EXPECT_EQ(m.decoded(), !peeked.has_value()) << "type() decoded the body";
  EXPECT_EQ(fields_of(m), fields_of(owning));
  EXPECT_EQ(fields_of(m), want.fields) << "(reference)";
  EXPECT_TRUE(m.decoded());
  EXPECT_EQ(m.type(), owning.type()) << "type() after decoding";
  EXPECT_EQ(m.encode(), owning.encode());
  EXPECT_EQ(m.size(), owning.size());
}

// ============================================================================================
// Message lent undecoded
// ============================================================================================

TEST(LazyMessage, EdgeBodiesLentUndecodedMatchAnOwningMessage) {
  const auto& bodies = edge_bodies();
  FrameBatch batch;
  fill_unscanned(batch, bodies);
  ASSERT_FALSE(batch.scanned());
  RawFieldBuffer scratch;
  Message m;
  for (size_t i = 0; i < bodies.size(); ++i) {
    batch.lend(i, m, scratch);
    expect_lent_like_owning(m, bodies[i]);
  }
}

// Every server message starts with an unescaped type: that is what makes laziness pay.
TEST(LazyMessage, ServerShapedBodiesArePeekable) {
  for (std::string body : {"type@=chatmsg/rid@=1/", "type@=loginres/userid@=0/", "type@=mrkl/",
                           "type@=dgb/gfid@=1/", "type@=x"}) {
    const auto t = Message::peek_type(body);
    ASSERT_TRUE(t.has_value()) << body;
    EXPECT_EQ(*t, Message(body).type()) << body;
    FrameBatch batch;
    batch.add_unscanned(body);
    RawFieldBuffer scratch;
    Message m;
    batch.lend(0, m, scratch);
    EXPECT_FALSE(m.decoded()) << body;
    EXPECT_EQ(m.type(), Message(body).type());
    EXPECT_FALSE(m.decoded()) << "type() decoded " << body;
  }
  // "type@=" exactly: an empty type, at a glance or decoded.
  EXPECT_EQ(Message::peek_type("type@=").value_or("<none>"), "");
  EXPECT_FALSE(Message::peek_type("a@=b/type@=c/").has_value()) << "type not first";
  EXPECT_FALSE(Message::peek_type("type@=a@Sb/").has_value()) << "escaped type";
}

// Random bodies over the STT alphabet, in batches sharing one Message and one scratch; each
// message is read in one of four ways (type only, fields, copy, move).
TEST(LazyMessage, RandomBodiesEveryReadingOrderMatchesTheReference) {
  std::mt19937 rng(20240611);
  const std::string alphabet = "type@=/AS@=/@x";
  auto random_body = [&] {
    std::string b;
    if (rng() % 4 != 0) b = "type@=";
    const size_t n = rng() % 90;
    for (size_t i = 0; i < n; ++i) b += alphabet[rng() % alphabet.size()];
    return b;
  };
  RawFieldBuffer scratch;
  Message m;
  for (int round = 0; round < 150; ++round) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 20; ++i) bodies.push_back(random_body());
    FrameBatch batch;
    fill_unscanned(batch, bodies);
    for (size_t i = 0; i < bodies.size(); ++i) {
      const std::string& body = bodies[i];
      const Expected want = reference(body);
      SCOPED_TRACE(describe(body));
      batch.lend(i, m, scratch);
      switch (rng() % 4) {
        case 0:
          EXPECT_EQ(m.type(), want.type);
          break;
        case 1:
          EXPECT_EQ(fields_of(m), want.fields);
          EXPECT_EQ(m.type(), want.type);
          break;
        case 2: {
          const Message copy(m);
          EXPECT_TRUE(copy.decoded());
          EXPECT_EQ(copy.type(), want.type);
          EXPECT_EQ(fields_of(copy), want.fields);
          EXPECT_EQ(fields_of(m), want.fields) << "the source after the copy";
          break;
        }
        default: {
          Message moved(std::move(m));
          EXPECT_EQ(moved.type(), want.type);
          EXPECT_EQ(fields_of(moved), want.fields);
          m = Message();
          break;
        }
      }
      if (HasFailure()) return;
    }
  }
}

// Bodies of every size around 16, 32 and 64 bytes (SIMD widths), at shifting offsets in the
// batch, with escapes and separators falling on every position.
TEST(LazyMessage, BodiesAroundSixteenAndSixtyFourBytes) {
  const std::vector<std::string> patterns = {"x@A/", "ab@=cd/", "@S@A=", "k@=v/", "y"};
  RawFieldBuffer scratch;
  Message m;
  for (size_t shift = 0; shift < 4; ++shift) {
    std::vector<std::string> bodies;
    for (size_t len = 0; len <= 140; ++len) {
      for (const auto& p : patterns) {
        std::string b = "type@=";
        while (b.size() < len) b += p;
        b.resize(len);
        bodies.push_back(b);
      }
      // the type itself crossing the widths
      bodies.push_back("type@=" + std::string(len, 'a') + "/k@=v@S/");
    }
    FrameBatch batch;
    if (shift > 0) batch.add_unscanned("type@=" + std::string(shift, 's'));
    fill_unscanned(batch, bodies);
    const size_t first = shift > 0 ? 1 : 0;
    for (size_t i = 0; i < bodies.size(); ++i) {
      batch.lend(first + i, m, scratch);
      expect_lent_like_owning(m, bodies[i]);
      if (HasFailure()) return;
    }
  }
}

// Every accessor decodes first: each is the FIRST call on a freshly lent Message.
TEST(LazyMessage, EveryAccessorDecodesFirst) {
  const std::string body =
      "type@=chatmsg/rid@=1/txt@=a@Sb@Ac/n@=42/m@=a@A=1@Sb@A=2@S/l@=x@Sy@S/"
      "ml@=a@AA=1@AS@S/rid@=2/k@Ay@=v/bare@S/v@=@=/";
  const Message owning(body);
  using Check = std::function<bool(const Message&, const Message&)>;
  const std::vector<std::pair<std::string, Check>> checks = {
      {"size", [](const Message& m, const Message& o) { return m.size() == o.size(); }},
      {"empty", [](const Message& m, const Message& o) { return m.empty() == o.empty(); }},
      {"key", [](const Message& m, const Message& o) { return m.key(8) == o.key(8); }},
      {"value", [](const Message& m, const Message& o) { return m.value(2) == o.value(2); }},
      {"field",
       [](const Message& m, const Message& o) {
         return m.field(9).key == o.field(9).key && m.field(9).value == o.field(9).value;
       }},
      {"fields().begin",
       [](const Message& m, const Message& o) {
         return (*m.fields().begin()).value == (*o.fields().begin()).value;
       }},
      {"fields().size",
       [](const Message& m, const Message& o) { return m.fields().size() == o.fields().size(); }},
      {"fields() loop",
       [](const Message& m, const Message& o) { return fields_of(m) == fields_of(o); }},
      {"get", [](const Message& m, const Message& o) { return m.get("txt") == o.get("txt"); }},
      {"get missing", [](const Message& m, const Message&) { return !m.get("nope"); }},
      {"get_or", [](const Message& m,
                    const Message& o) { return m.get_or("v", "fb") == o.get_or("v", "fb"); }},
      {"get_int", [](const Message& m, const Message&) { return m.get_int("n") == 42; }},
      {"get_int_or", [](const Message& m, const Message&) { return m.get_int_or("txt", 7) == 7; }},
      {"get_all",
       [](const Message& m, const Message& o) { return m.get_all("rid") == o.get_all("rid"); }},
      {"has", [](const Message& m, const Message&) { return m.has("k@y"); }},
      {"has not", [](const Message& m, const Message&) { return !m.has("k@Ay"); }},
      {"get_map",
       [](const Message& m, const Message& o) { return m.get_map("m") == o.get_map("m"); }},
      {"get_list",
       [](const Message& m, const Message& o) { return m.get_list("l") == o.get_list("l"); }},
      {"get_map_list",
       [](const Message& m, const Message& o) {
         return m.get_map_list("ml") == o.get_map_list("ml");
       }},
      {"get_value",
       [](const Message& m, const Message& o) { return m.get_value("m") == o.get_value("m"); }},
      {"encode", [](const Message& m, const Message& o) { return m.encode() == o.encode(); }},
      {"copy",
       [](const Message& m, const Message& o) {
         const Message c(m);
         return c.decoded() && fields_of(c) == fields_of(o) && c.type() == o.type();
       }},
      {"copy-assign",
       [](const Message& m, const Message& o) {
         Message c("type@=old/a@=b/");
         c = m;
         return c.decoded() && fields_of(c) == fields_of(o) && c.type() == o.type();
       }},
  };
  ASSERT_EQ(owning.get_map("m").size(), 2u) << "the test's nested value";
  for (const auto& [name, check] : checks) {
    SCOPED_TRACE(name);
    FrameBatch batch;
    batch.add_unscanned(body);
    RawFieldBuffer scratch;
    Message m;
    batch.lend(0, m, scratch);
    ASSERT_FALSE(m.decoded());
    EXPECT_TRUE(check(m, owning)) << name << " on a lent-undecoded Message";
    EXPECT_TRUE(m.decoded()) << name << " did not decode";
    EXPECT_EQ(m.type(), "chatmsg");
    EXPECT_EQ(fields_of(m), fields_of(owning));
  }
}

// decoded(): true for every Message but one lent undecoded whose fields nobody asked for.
TEST(LazyMessage, DecodedTruthTable) {
  EXPECT_TRUE(Message().decoded());
  EXPECT_TRUE(Message("type@=x/a@=b/").decoded());
  FrameBatch scanned;
  scanned.add("type@=x/a@=b/");
  Message m;
  scanned.lend(0, m);
  EXPECT_TRUE(m.decoded()) << "borrow_decoded";
  RawFieldBuffer scratch;
  scanned.lend(0, m, scratch);
  EXPECT_TRUE(m.decoded()) << "lend(i, m, scratch) of a scanned batch";

  FrameBatch lazy;
  lazy.add_unscanned("type@=x/a@=b@S/");
  lazy.add_unscanned("a@=b/type@=y/");    // type not first: decoded at lend
  lazy.add_unscanned("type@=z@A/a@=b/");  // escaped type: decoded at lend
  lazy.lend(0, m, scratch);
  EXPECT_FALSE(m.decoded());
  EXPECT_EQ(m.type(), "x");
  EXPECT_FALSE(m.decoded()) << "type() decoded";
  (void)m.text_size();
  (void)m.memory_bytes();
  // A move keeps what the source borrows; whether it decodes on the way is not promised (this
  // implementation does: a moved lent Message is decoded), so only its content is checked.
  Message moved(std::move(m));
  EXPECT_EQ(moved.type(), "x");
  const Message copy(moved);
  EXPECT_TRUE(copy.decoded()) << "a copy always owns: decoded";
  EXPECT_EQ(moved.get_or("a"), "b/");
  EXPECT_TRUE(moved.decoded());

  lazy.lend(1, m, scratch);
  EXPECT_TRUE(m.decoded()) << "type not first: decoded at lend";
  EXPECT_EQ(m.type(), "y");
  lazy.lend(2, m, scratch);
  EXPECT_TRUE(m.decoded()) << "escaped type: decoded at lend";
  EXPECT_EQ(m.type(), "z@");
}

// Copies made before any field was read own everything: they outlive the batch and the scratch
// (freed by recycle(0), then reused), and survive being moved around (short bodies: SSO).
TEST(LazyMessage, CopiesOfUndecodedMessagesOutliveTheBatch) {
  const std::vector<std::string> bodies = {
      "type@=a/b@=c/",  // short: the copy's body is inline in the std::string
      "type@=x/",
      "type@=chatmsg/txt@=a@Sb@Ac/nn@=x@A@Sy/",
      "type@=chatmsg/" + std::string(300, 'q') + "@S/k@Ay@=@S@S/",
      "type@=",
      "type@=t/bare@S/",
  };
  std::vector<Message> by_ctor, by_assign;  // no reserve: reallocation moves them
  {
    FrameBatch batch;
    fill_unscanned(batch, bodies);
    RawFieldBuffer scratch;
    Message m;
    for (size_t i = 0; i < bodies.size(); ++i) {
      batch.lend(i, m, scratch);
      ASSERT_FALSE(m.decoded());
      by_ctor.emplace_back(m);
      Message a("type@=previous/x@=y/z@=w/");
      a = m;
      by_assign.push_back(std::move(a));
      const Expected want = reference(bodies[i]);
      EXPECT_EQ(m.type(), want.type) << describe(bodies[i]);
      EXPECT_EQ(fields_of(m), want.fields) << "the source after copying: " << describe(bodies[i]);
    }
    batch.recycle(0);  // gives the memory back
    for (int i = 0; i < 50; ++i) batch.add_unscanned("type@=junk/" + std::string(64, 'j') + "/");
    batch.lend(0, m, scratch);
    EXPECT_EQ(m.size(), 2u);
  }
  for (size_t i = 0; i < bodies.size(); ++i) {
    const Expected want = reference(bodies[i]);
    SCOPED_TRACE(describe(bodies[i]));
    EXPECT_TRUE(by_ctor[i].decoded());
    EXPECT_EQ(by_ctor[i].type(), want.type);
    EXPECT_EQ(fields_of(by_ctor[i]), want.fields);
    EXPECT_EQ(by_assign[i].type(), want.type);
    EXPECT_EQ(fields_of(by_assign[i]), want.fields);
    const Message again(std::move(by_ctor[i]));
    EXPECT_EQ(again.type(), want.type);
    EXPECT_EQ(fields_of(again), want.fields);
  }
}

// A moved lent Message (moved before any field was read) has the lent body's content where it
// went, whether the move decoded it or not.
TEST(LazyMessage, MovedUndecodedMessageDecodesAtItsNewPlace) {
  const std::string body = "type@=chatmsg/txt@=a@Sb/k@Ay@=v/";
  const Expected want = reference(body);
  FrameBatch batch;
  batch.add_unscanned(body);
  RawFieldBuffer scratch;
  Message m;
  batch.lend(0, m, scratch);
  Message n(std::move(m));
  EXPECT_EQ(n.type(), "chatmsg");
  EXPECT_FALSE(n.decoded()) << "a move decodes nothing: the lease moves as it is";
  EXPECT_TRUE(m.decoded());  // NOLINT(bugprone-use-after-move): moved-from is empty and owning
  EXPECT_TRUE(m.empty());    // NOLINT(bugprone-use-after-move)
  Message p("type@=owned/a@=b/c@=d/e@=f/");
  p = std::move(n);
  EXPECT_EQ(p.type(), "chatmsg");
  EXPECT_FALSE(p.decoded());
  EXPECT_EQ(fields_of(p), want.fields);
  EXPECT_TRUE(p.decoded());
  EXPECT_EQ(p.type(), "chatmsg");
}

// A lent-undecoded Message that is then given other contents (copy/move assignment, assign(),
// borrow_decoded()) is that content only: the old lent body is never decoded afterwards.
TEST(LazyMessage, ReassigningAnUndecodedMessageForgetsTheLentBody) {
  const std::string lent_body = "type@=lent/txt@=a@Sb@Ac/";
  const std::string other = "type@=other/x@=1/y@=z@S/";
  const Expected want = reference(other);
  std::vector<RawField> scanned;
  stt_scan_fields(other, scanned);
  const std::vector<std::pair<std::string, std::function<void(Message&)>>> ways = {
      {"copy-assign", [&](Message& m) { m = Message(other); }},
      {"copy-assign lvalue",
       [&](Message& m) {
         const Message o(other);
         m = o;
       }},
      {"move-assign", [&](Message& m) { m = Message(other); }},
      {"assign(body)", [&](Message& m) { m.assign(other); }},
      {"assign(body, fields)", [&](Message& m) { m.assign(other, scanned); }},
  };
  for (const auto& [name, way] : ways) {
    SCOPED_TRACE(name);
    FrameBatch batch;
    batch.add_unscanned(lent_body);
    RawFieldBuffer scratch;
    Message m;
    batch.lend(0, m, scratch);
    ASSERT_FALSE(m.decoded());
    way(m);
    EXPECT_TRUE(m.decoded());
    EXPECT_EQ(m.type(), "other");
    EXPECT_EQ(fields_of(m), want.fields);
    EXPECT_EQ(m.type(), "other");
    EXPECT_EQ(batch.body(0), lent_body) << "the old lent body was decoded in place";
  }
  // borrow_decoded over an undecoded one
  FrameBatch lazy;
  lazy.add_unscanned(lent_body);
  FrameBatch decoded;
  decoded.add(other);
  RawFieldBuffer scratch;
  Message m;
  lazy.lend(0, m, scratch);
  decoded.lend(0, m);
  EXPECT_TRUE(m.decoded());
  EXPECT_EQ(m.type(), "other");
  EXPECT_EQ(fields_of(m), want.fields);
  EXPECT_EQ(lazy.body(0), lent_body);
  // and the reset of a default (a body is lent undecoded once: a fresh batch)
  lazy.recycle(1 << 20);
  lazy.add_unscanned(lent_body);
  lazy.lend(0, m, scratch);
  m = Message();
  EXPECT_TRUE(m.decoded());
  EXPECT_EQ(m.type(), "");
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(lazy.body(0), lent_body);
}

// One Message lent again and again: nothing of the previous body (fields, type, owned storage)
// leaks into the next.
TEST(LazyMessage, LentAgainNoFieldOfThePreviousBodyLeaks) {
  std::string many = "type@=many/";
  for (int i = 0; i < 60; ++i) many += "k" + std::to_string(i) + "@=v@S" + std::to_string(i) + "/";
  const std::vector<std::string> bodies = {
      many,
      "type@=one/",
      "x@=1/type@=two/",
      many,
      "type@=three/a@=b/",
      "type",
      "type@=four/a@=b@A/c/",
      "",
      "type@=five/",
      many,
  };
  // Starts owning a large body of its own.
  Message m(many + many);
  ASSERT_EQ(m.size(), 122u);
  FrameBatch batch;
  fill_unscanned(batch, bodies);
  RawFieldBuffer scratch;
  for (size_t i = 0; i < bodies.size(); ++i) {
    SCOPED_TRACE(describe(bodies[i]));
    const Expected want = reference(bodies[i]);
    batch.lend(i, m, scratch);
    if (i % 3 == 0) {
      EXPECT_EQ(m.type(), want.type);  // type only: never decoded
      continue;
    }
    if (i % 3 == 1) {
      const Message c(m);  // the copy must take the LENT body, not the owned one
      EXPECT_EQ(c.type(), want.type);
      EXPECT_EQ(fields_of(c), want.fields);
    } else {
      Message n(std::move(m));  // the move must keep the lent body, not the owned one
      EXPECT_EQ(n.type(), want.type);
      EXPECT_EQ(fields_of(n), want.fields);
      m = std::move(n);
    }
    EXPECT_EQ(m.size(), want.fields.size());
    EXPECT_EQ(fields_of(m), want.fields);
    EXPECT_EQ(m.type(), want.type);
  }
}

// One scratch for many batches — unscanned, scanned, received in place — interleaved.
TEST(LazyMessage, OneScratchForManyBatchesInterleaved) {
  std::vector<std::string> bodies;
  for (int i = 0; i < 40; ++i) {
    bodies.push_back("type@=b" + std::to_string(i) + "/txt@=" + std::string(i, '@') + "S/" +
                     (i % 5 == 0 ? "lead@=x/" : "") + std::string(i % 7, '/') +
                     "n@=" + std::to_string(i) + "/");
  }
  bodies.push_back("a@=b/type@=notfirst/");
  FrameBatch a, b, c;
  fill_unscanned(a, bodies);
  for (const auto& s : bodies) b.add(s);
  // c: received in place, headers included, a frame still arriving at its end
  std::string stream;
  std::vector<std::pair<size_t, size_t>> where;
  for (const auto& s : bodies) {
    const std::string frame = encode_frame(s, kServerToClient);
    ASSERT_EQ(frame.size(), kHeaderSize + s.size() + 1);
    ASSERT_EQ(frame.substr(kHeaderSize, s.size()), s);
    where.emplace_back(stream.size() + kHeaderSize, s.size());
    stream += frame;
  }
  const size_t whole = stream.size();
  const std::string partial =
      encode_frame("type@=partial/abc@=def/", kServerToClient).substr(0, 17);
  stream += partial;
  char* p = c.receive_space(stream.size());
  std::copy(stream.begin(), stream.end(), p);
  c.received(stream.size());
  for (const auto& [off, size] : where) {
    c.add_received(c.received_bytes().substr(off, size), false);
  }
  std::string tail;
  c.take_tail(whole, tail);
  EXPECT_EQ(tail, partial);
  EXPECT_EQ(c.body_bytes(), whole);
  ASSERT_EQ(c.size(), bodies.size());

  RawFieldBuffer scratch;
  Message m;
  FrameBatch* batches[] = {&a, &b, &c};
  for (size_t i = 0; i < bodies.size(); ++i) {
    for (size_t k = 0; k < 3; ++k) {
      const size_t which = (i + k) % 3;
      SCOPED_TRACE("batch " + std::to_string(which) + " " + describe(bodies[i]));
      batches[which]->lend(i, m, scratch);
      const Expected want = reference(bodies[i]);
      EXPECT_EQ(m.type(), want.type);
      if ((i + k) % 2 == 0) {
        EXPECT_EQ(fields_of(m), want.fields);
      }
    }
  }
}

// lend(i, m, scratch) on an unscanned batch and lend(i, m) after scan() give the same Message.
TEST(LazyMessage, LazyLendAndScannedLendAgree) {
  std::vector<std::string> bodies = edge_bodies();
  FrameBatch lazy, scanned;
  fill_unscanned(lazy, bodies);
  fill_unscanned(scanned, bodies);
  scanned.scan();
  ASSERT_TRUE(scanned.scanned());
  RawFieldBuffer scratch;
  Message a, b, c;
  for (size_t i = 0; i < bodies.size(); ++i) {
    SCOPED_TRACE(describe(bodies[i]));
    lazy.lend(i, a, scratch);
    scanned.lend(i, b);
    RawFieldBuffer other_scratch;
    scanned.lend(i, c, other_scratch);  // the worker's way, on a decoded batch
    EXPECT_TRUE(b.decoded());
    EXPECT_TRUE(c.decoded());
    EXPECT_EQ(a.type(), b.type());
    EXPECT_EQ(fields_of(a), fields_of(b));
    EXPECT_EQ(fields_of(c), fields_of(b));
    EXPECT_EQ(fields_of(b), reference(bodies[i]).fields);
  }
}

// FOUND (contract gap, fixed): a body decoded in place through lend(i, m, scratch) stayed
// "unscanned" in its batch; scan() or a second lend(i, ...) then unescaped the already-unescaped
// text again ("a@Sb" -> "a/b" -> split at the new '/'). Now both are refused (std::logic_error),
// and the fields lent the first time stay right.
TEST(LazyMessage, ScanOrLendAgainAfterALazyDecodeIsRefused) {
  const std::vector<std::string> bodies = {"type@=x/txt@=a@Sb@Ac/k@Ay@=v@AS/",
                                           "type@=y/v@=@AA@AS/"};
  FrameBatch batch;
  fill_unscanned(batch, bodies);
  RawFieldBuffer scratch;
  Message m;
  for (size_t i = 0; i < bodies.size(); ++i) {
    batch.lend(i, m, scratch);
    EXPECT_EQ(fields_of(m), reference(bodies[i]).fields);  // decodes in place
  }
  RawFieldBuffer scratch2;
  for (size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_THROW(batch.lend(i, m, scratch2), std::logic_error) << "lent a second time: " << i;
  }
  EXPECT_THROW(batch.scan(), std::logic_error);
  EXPECT_FALSE(batch.scanned());
  batch.recycle(1 << 20);  // a recycled batch starts afresh
  fill_unscanned(batch, bodies);
  batch.lend(1, m, scratch);  // in order, skipping one: allowed
  EXPECT_EQ(fields_of(m), reference(bodies[1]).fields);
  EXPECT_THROW(batch.lend(0, m, scratch), std::logic_error);
}

// "A batch is decoded whole or not at all: its first body decides": batches mixing add() and
// add_unscanned() lend every body right, either way.
TEST(LazyMessage, MixedAddAndAddUnscannedInOneBatch) {
  const std::vector<std::string> bodies = {"type@=a/x@=1@S/", "type@=b/y@=@A/", "q@=1/type@=c/",
                                           "type@=d/", "type@=e/z@=a@Sb/"};
  for (int first_scanned = 0; first_scanned < 2; ++first_scanned) {
    SCOPED_TRACE(first_scanned ? "first body added decoded" : "first body added unscanned");
    FrameBatch batch;
    for (size_t i = 0; i < bodies.size(); ++i) {
      if ((i % 2 == 0) == (first_scanned == 1)) {
        batch.add(bodies[i]);
      } else {
        batch.add_unscanned(bodies[i]);
      }
    }
    EXPECT_EQ(batch.scanned(), first_scanned == 1);
    RawFieldBuffer scratch;
    Message m;
    for (size_t i = 0; i < bodies.size(); ++i) {
      SCOPED_TRACE(describe(bodies[i]));
      batch.lend(i, m, scratch);
      EXPECT_EQ(m.type(), reference(bodies[i]).type);
      EXPECT_EQ(fields_of(m), reference(bodies[i]).fields);
    }
    if (first_scanned == 0) {
      FrameBatch again;
      for (size_t i = 0; i < bodies.size(); ++i) {
        if (i % 2 == 0) {
          again.add_unscanned(bodies[i]);
        } else {
          again.add(bodies[i]);
        }
      }
      again.scan();
      for (size_t i = 0; i < bodies.size(); ++i) {
        again.lend(i, m);
        EXPECT_EQ(fields_of(m), reference(bodies[i]).fields) << "after scan(): " << i;
      }
    }
  }
}

// Hostile sizes: 1 MiB of "a/a/..." with and without a type first, and 512 KiB of escapes.
TEST(LazyMessage, HugeBodies) {
  std::string typed = "type@=chatmsg/";
  typed.reserve(1 << 20);
  while (typed.size() + 2 <= (1u << 20)) typed += "a/";
  const size_t typed_fields = 1 + (typed.size() - 14) / 2;
  std::string untyped;
  while (untyped.size() + 2 <= (1u << 20)) untyped += "a/";
  std::string escapes = "type@=esc/v@=";
  for (int i = 0; i < 256 * 1024; ++i) escapes += (i % 2 ? "@S" : "@A");
  escapes += "/";

  FrameBatch batch;
  batch.add_unscanned(typed);
  batch.add_unscanned(untyped);
  batch.add_unscanned(escapes);
  RawFieldBuffer scratch;
  Message m;

  batch.lend(0, m, scratch);
  EXPECT_FALSE(m.decoded());
  EXPECT_EQ(m.type(), "chatmsg");
  EXPECT_FALSE(m.decoded());
  EXPECT_EQ(m.size(), typed_fields);
  EXPECT_EQ(m.key(0), "type");
  EXPECT_EQ(m.value(typed_fields - 1), "a");
  EXPECT_EQ(m.key(typed_fields - 1), "");
  EXPECT_EQ(m.type(), "chatmsg");

  batch.lend(1, m, scratch);
  EXPECT_TRUE(m.decoded()) << "no type at a glance: decoded at lend";
  EXPECT_EQ(m.type(), "");
  EXPECT_EQ(m.size(), untyped.size() / 2);

  batch.lend(2, m, scratch);
  EXPECT_FALSE(m.decoded());
  EXPECT_EQ(m.type(), "esc");
  const auto v = m.get("v");
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), 256u * 1024);
  for (size_t i = 0; i < v->size(); i += 4099) {
    ASSERT_EQ((*v)[i], i % 2 ? '/' : '@') << i;
  }
  const Message copy(m);
  EXPECT_EQ(copy.get("v"), m.get("v"));
}

// ============================================================================================
// MessageWorker
// ============================================================================================

// The text of message `seq`: '/', '@', "@=" and a run whose length varies, so field boundaries
// and escapes fall everywhere.
std::string text_for(uint64_t seq) {
  std::string t = "hi/" + std::to_string(seq) + "@x@=y";
  t.append(seq % 37, (seq & 1) ? '/' : '@');
  return t;
}

// Body of message `seq` of a stream: its type names its seq, so a callback that reads only
// type() can still check order.
std::string stream_body(uint64_t seq) {
  const std::string s = std::to_string(seq);
  return "type@=c" + s + "/seq@=" + s + "/txt@=" + stt_escape(text_for(seq)) +
         "/k@Ay@=v@Sw/bare@S/rid@=1/rid@=2/";
}

// The seq a stream body's type names ("c<seq>"): read from type() alone, which decodes nothing.
uint64_t seq_of_type(std::string_view type) {
  return std::strtoull(std::string(type.substr(1)).c_str(), nullptr, 10);
}

// What a stream of n messages must deliver (index = seq).
std::vector<Expected> expected_stream(uint64_t n) {
  std::vector<Expected> e(n + 1);
  for (uint64_t s = 1; s <= n; ++s) e[s] = reference(stream_body(s));
  return e;
}

// Checks a stream on the delivering thread: order by type, content where the mode reads fields.
class StreamCheck {
 public:
  enum Mode { kTypeOnly, kFields, kCopy, kPartial };
  explicit StreamCheck(uint64_t n) : expected_(expected_stream(n)) {}

  // Returns the seq (0 for a message outside the stream).
  uint64_t check(const Message& m, Mode mode) {
    const std::string_view type = m.type();
    if (type.size() < 2 || type[0] != 'c') {
      std::lock_guard lock(mutex_);
      others_.emplace_back(type);
      return 0;
    }
    const uint64_t seq = seq_of_type(type);
    std::lock_guard lock(mutex_);
    if (seq != next_)
      fail("out of order: got c" + std::to_string(seq) + ", expected c" + std::to_string(next_));
    next_ = seq + 1;
    if (seq == 0 || seq >= expected_.size()) {
      fail("unknown seq " + std::to_string(seq));
      return seq;
    }
    const Expected& want = expected_[seq];
    switch (mode) {
      case kTypeOnly:
        break;
      case kFields:
        if (fields_of(m) != want.fields) fail("fields of c" + std::to_string(seq));
        break;
      case kCopy: {
        const Message c(m);
        if (fields_of(c) != want.fields || c.type() != want.type) {
          fail("copy of c" + std::to_string(seq));
        }
        break;
      }
      case kPartial:
        if (m.get_or("txt") != text_for(seq)) fail("txt of c" + std::to_string(seq));
        break;
    }
    if (m.type() != want.type) fail("type after reading c" + std::to_string(seq));
    return seq;
  }
  uint64_t next() const {
    std::lock_guard lock(mutex_);
    return next_;
  }
  uint64_t failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  std::string first_failure() const {
    std::lock_guard lock(mutex_);
    return first_failure_;
  }
  std::vector<std::string> others() const {
    std::lock_guard lock(mutex_);
    return others_;
  }

 private:
  void fail(const std::string& what) {
    if (failures_++ == 0) first_failure_ = what;
  }
  const std::vector<Expected> expected_;
  mutable std::mutex mutex_;
  uint64_t next_ = 1;
  uint64_t failures_ = 0;
  std::string first_failure_;
  std::vector<std::string> others_;
};

// Pushes messages first..last as unscanned batches of `per_batch`.
void push_stream(MessageWorker& worker, uint64_t first, uint64_t last, size_t per_batch,
                 bool unscanned = true) {
  FrameBatch batch;
  for (uint64_t s = first; s <= last; ++s) {
    if (unscanned) {
      batch.add_unscanned(stream_body(s));
    } else {
      batch.add(stream_body(s));
    }
    if (batch.size() == per_batch || s == last) worker.push(batch);
  }
}

// Stops the worker once it delivered what was pushed, and checks that `check` saw messages
// 1..n, in order, each right.
void stop_and_expect_every_message(MessageWorker& worker, const StreamCheck& check, uint64_t n) {
  worker.stop(true);
  worker.join();
  EXPECT_EQ(worker.delivered(), n);
  EXPECT_EQ(check.next(), n + 1);
  EXPECT_EQ(check.failures(), 0u) << check.first_failure();
}

// Reads fields for some messages and only the type for others, by seq.
TEST(LazyWorker, MixedReadersDeliverEverythingInOrder) {
  constexpr uint64_t kN = 4000;
  StreamCheck check(kN);
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        const uint64_t seq = seq_of_type(m.type());
        check.check(m, static_cast<StreamCheck::Mode>(seq % 4));
      },
      [] {});
  push_stream(worker, 1, kN / 2, 37);
  push_stream(worker, kN / 2 + 1, kN, 64, false);  // loop-decoded batches in between
  stop_and_expect_every_message(worker, check, kN);
}

// callback_reads_fields() follows the callback: false after a batch it only typed, true again
// after one whose fields it read; a decoded batch says nothing. Nothing is lost or reordered.
TEST(LazyWorker, CallbackReadsFieldsFollowsTheCallback) {
  constexpr uint64_t kPer = 200;
  constexpr int kTwoThirds = 10, kOneThird = 11;  // fields of 2/3 (most) or 1/3 of the messages
  StreamCheck check(8 * kPer);
  std::atomic<int> mode{StreamCheck::kTypeOnly};
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        const int mo = mode.load();
        if (mo < kTwoThirds) {
          check.check(m, static_cast<StreamCheck::Mode>(mo));
          return;
        }
        const uint64_t seq = seq_of_type(m.type());
        const bool reads = mo == kTwoThirds ? seq % 3 != 0 : seq % 3 == 0;
        check.check(m, reads ? StreamCheck::kFields : StreamCheck::kTypeOnly);
      },
      [] {});
  EXPECT_TRUE(worker.callback_reads_fields()) << "true until a batch says otherwise";
  uint64_t next = 1;
  auto phase = [&](int mo, bool unscanned, bool expect_reads) {
    mode = mo;
    push_stream(worker, next, next + kPer - 1, kPer, unscanned);
    next += kPer;
    EXPECT_TRUE(eventually([&] { return worker.delivered() == next - 1; }));
    EXPECT_TRUE(eventually([&] { return worker.callback_reads_fields() == expect_reads; }))
        << "mode " << mo << " unscanned " << unscanned;
  };
  phase(StreamCheck::kTypeOnly, true, false);
  phase(StreamCheck::kFields, true, true);
  phase(StreamCheck::kTypeOnly, true, false);
  phase(StreamCheck::kCopy, true, true);  // a copy reads every field
  phase(StreamCheck::kPartial, true, true);
  phase(kOneThird, true, false);
  phase(kTwoThirds, true, true);
  // a decoded batch (the loop decoded it) read for types only: says nothing
  mode = StreamCheck::kTypeOnly;
  push_stream(worker, next, next + kPer - 1, kPer, false);
  next += kPer;
  worker.stop(true);
  worker.join();
  EXPECT_TRUE(worker.callback_reads_fields()) << "a decoded batch changed the flag";
  EXPECT_EQ(worker.delivered(), next - 1);
  EXPECT_EQ(check.next(), next);
  EXPECT_EQ(check.failures(), 0u) << check.first_failure();
}

// The callback switches behaviour half-way through each batch.
TEST(LazyWorker, CallbackSwitchingMidBatchLosesNothing) {
  constexpr uint64_t kN = 3000;
  StreamCheck check(kN);
  std::atomic<uint64_t> seen{0};
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        const uint64_t n = ++seen;
        check.check(m, (n / 50) % 2 ? StreamCheck::kFields : StreamCheck::kTypeOnly);
      },
      [] {});
  push_stream(worker, 1, kN, 100);
  stop_and_expect_every_message(worker, check, kN);
}

// Callbacks that throw after reading part of a message (a key, only the type, a copy): the next
// message is lent correctly (no state of the interrupted decode leaks), nothing else is lost.
TEST(LazyWorker, ThrowingAfterAPartialReadLeaksNothingIntoTheNextMessage) {
  constexpr uint64_t kN = 1200;
  StreamCheck check(kN);
  std::atomic<uint64_t> thrown{0};
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        const uint64_t seq = seq_of_type(m.type());
        switch (seq % 5) {
          case 0:
            check.check(m, StreamCheck::kTypeOnly);
            (void)m.key(0);
            ++thrown;
            throw std::runtime_error("after key(0)");
          case 1:
            check.check(m, StreamCheck::kTypeOnly);
            ++thrown;
            throw std::runtime_error("after type()");
          case 2:
            check.check(m, StreamCheck::kCopy);
            ++thrown;
            throw std::logic_error("after a copy");
          default:
            check.check(m, StreamCheck::kFields);
        }
      },
      [] {});
  push_stream(worker, 1, kN, 25);
  worker.stop(true);
  worker.join();
  EXPECT_EQ(worker.delivered(), kN);
  EXPECT_EQ(thrown.load(), kN / 5 * 3);
  EXPECT_EQ(check.next(), kN + 1);
  EXPECT_EQ(check.failures(), 0u) << check.first_failure();
}

// stop(false) from inside the callback, mid-batch: the message in progress is the last one
// delivered; every other is counted as discarded.
TEST(LazyWorker, StopWithoutDeliveringMidBatch) {
  constexpr uint64_t kN = 500;
  constexpr uint64_t kStopAt = 137;
  StreamCheck check(kN);
  MessageWorker* self = nullptr;
  std::atomic<uint64_t> after_stop{0};
  std::atomic<bool> stopped{false};
  Gate pushed;
  MessageWorker worker(
      1 << 20, 0,
      [&](const Message& m) {
        pushed.wait();
        if (stopped) ++after_stop;
        const uint64_t seq = check.check(m, StreamCheck::kFields);
        if (seq == kStopAt) {
          stopped = true;
          self->stop(false);
        }
      },
      [] {});
  self = &worker;
  push_stream(worker, 1, kN, 100);
  pushed.open();
  worker.join();
  EXPECT_EQ(after_stop.load(), 0u);
  EXPECT_EQ(worker.delivered(), kStopAt);
  EXPECT_EQ(worker.discarded(), kN - kStopAt);
  EXPECT_EQ(worker.pending(), 0u);
  EXPECT_EQ(check.failures(), 0u) << check.first_failure();
}

// Pooled: four queues on ONE lane, each reading differently, their batches interleaved.
TEST(LazyWorker, PooledQueuesOnOneLaneEachReadingDifferently) {
  constexpr uint64_t kN = 2000;
  auto pool = std::make_shared<WorkerPool>(1);
  const StreamCheck::Mode modes[] = {StreamCheck::kTypeOnly, StreamCheck::kFields,
                                     StreamCheck::kCopy, StreamCheck::kPartial};
  std::vector<std::unique_ptr<StreamCheck>> checks;
  std::vector<std::unique_ptr<MessageWorker>> workers;
  for (int w = 0; w < 4; ++w) {
    checks.push_back(std::make_unique<StreamCheck>(kN));
    StreamCheck* c = checks.back().get();
    const StreamCheck::Mode mode = modes[w];
    workers.push_back(std::make_unique<MessageWorker>(
        1 << 20, 0, [c, mode](const Message& m) { c->check(m, mode); }, [] {}, pool));
    EXPECT_TRUE(workers.back()->pooled());
  }
  for (uint64_t first = 1; first <= kN; first += 40) {
    for (auto& w : workers) push_stream(*w, first, std::min(kN, first + 39), 40);
  }
  for (auto& w : workers) w->stop(true);
  for (auto& w : workers) w->join();
  for (int w = 0; w < 4; ++w) {
    SCOPED_TRACE("queue " + std::to_string(w));
    EXPECT_EQ(workers[w]->delivered(), kN);
    EXPECT_EQ(checks[w]->next(), kN + 1);
    EXPECT_EQ(checks[w]->failures(), 0u) << checks[w]->first_failure();
  }
  EXPECT_FALSE(workers[0]->callback_reads_fields()) << "a type-only queue";
  EXPECT_TRUE(workers[1]->callback_reads_fields()) << "a fields queue";
  EXPECT_TRUE(workers[2]->callback_reads_fields()) << "a copying queue";
}

// The callback hands COPIES (made before or after reading fields) to another thread, and keeps
// some until the worker and its batches are gone.
TEST(LazyWorker, CopiesHandedToAnotherThreadAndKeptPastTheWorker) {
  constexpr uint64_t kN = 3000;
  const std::vector<Expected> want = expected_stream(kN);
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Message> handed;
  bool done = false;
  std::vector<Message> kept;
  uint64_t consumer_bad = 0, consumer_seen = 0;
  std::thread consumer([&] {
    for (;;) {
      Message m;
      {
        std::unique_lock lock(mutex);
        if (!cv.wait_for(lock, std::chrono::seconds(20), [&] { return done || !handed.empty(); }))
          return;
        if (handed.empty()) return;
        m = std::move(handed.front());
        handed.pop_front();
      }
      const uint64_t seq = seq_of_type(m.type());
      ++consumer_seen;
      if (seq == 0 || seq > kN || fields_of(m) != want[seq].fields) ++consumer_bad;
    }
  });
  {
    MessageWorker worker(
        1 << 20, 0,
        [&](const Message& m) {
          const uint64_t seq = seq_of_type(m.type());
          if (seq % 2) (void)m.get("txt");  // half decoded before the copy
          Message copy(m);
          if (seq % 10 == 0) kept.push_back(copy);
          {
            std::lock_guard lock(mutex);
            handed.push_back(std::move(copy));
          }
          cv.notify_one();
        },
        [] {});
    push_stream(worker, 1, kN, 50);
    worker.stop(true);
    worker.join();
  }
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  cv.notify_all();
  consumer.join();
  EXPECT_EQ(consumer_seen, kN);
  EXPECT_EQ(consumer_bad, 0u);
  ASSERT_EQ(kept.size(), kN / 10);
  for (size_t i = 0; i < kept.size(); ++i) {
    const uint64_t seq = (i + 1) * 10;
    EXPECT_EQ(kept[i].type(), want[seq].type);
    EXPECT_EQ(fields_of(kept[i]), want[seq].fields) << seq;
  }
}

// ============================================================================================
// DouyuClient end to end
// ============================================================================================

std::string stream_script(uint64_t n) {
  std::string s = kLoginRes;
  for (uint64_t i = 1; i <= n; ++i) s += server_frame(stream_body(i));
  return s;
}

DouyuClientOptions raw_options(uint16_t port) {
  auto o = options_for_port(port);
  o.reconnect = false;
  o.logout_flush_timeout = std::chrono::milliseconds(200);
  return o;
}

struct ClientRun {
  size_t high_water = 8192;
  size_t high_water_bytes = 64 << 20;
  std::chrono::microseconds spin{0};
  std::function<StreamCheck::Mode(uint64_t n)> mode;  // by delivery count
};

// One client against a RawServer sending the stream; returns the check's failures.
void run_client(uint64_t n, const ClientRun& run, size_t* max_queued_bytes = nullptr,
                size_t* max_queued_messages = nullptr) {
  Loop loop;
  const std::string script = stream_script(n);
  RawServer server(loop, [&](int) { return Script{script, Script::kKeepOpen}; });
  auto o = raw_options(server.port());
  o.receive_high_water = run.high_water;
  o.receive_high_water_bytes = run.high_water_bytes;
  StreamCheck check(n);
  std::atomic<uint64_t> count{0};
  std::atomic<size_t> max_bytes{0}, max_msgs{0};
  std::atomic<DouyuClient*> self{nullptr};
  DouyuClient client(loop, o, [&](const Message& m) {
    const uint64_t k = ++count;
    check.check(m, run.mode(k));
    if (DouyuClient* c = self.load()) {
      const size_t b = c->queued_bytes(), q = c->queued_messages();
      if (b > max_bytes.load()) max_bytes = b;
      if (q > max_msgs.load()) max_msgs = q;
    }
    if (run.spin.count() > 0) spin_for(run.spin);
  });
  self = &client;
  client.start();
  EXPECT_TRUE(run_until(
      loop, [&] { return check.next() == n + 1; }, 25))
      << "delivered up to c" << check.next() - 1 << " of " << n;
  client.stop();
  client.join();
  EXPECT_EQ(check.failures(), 0u) << check.first_failure();
  EXPECT_EQ(check.next(), n + 1);
  EXPECT_EQ(check.others(), std::vector<std::string>{"loginres"});
  EXPECT_EQ(client.delivered(), client.frames_received());
  EXPECT_EQ(client.delivered(), n + 1);
  EXPECT_EQ(client.reconnects(), 0u);
  if (max_queued_bytes) *max_queued_bytes = max_bytes;
  if (max_queued_messages) *max_queued_messages = max_msgs;
}

TEST(LazyClient, TypeOnlyCallbackGetsEveryMessageOnceInOrder) {
  run_client(20000, {.mode = [](uint64_t) { return StreamCheck::kTypeOnly; }});
}

TEST(LazyClient, FieldsCallbackGetsEveryMessageOnceInOrder) {
  run_client(10000, {.mode = [](uint64_t) { return StreamCheck::kFields; }});
}

// A tiny receive_high_water and a slow callback that reads fields: the worker is behind, so the
// loop thread decodes.
TEST(LazyClient, TinyHighWaterLoopThreadDecodes) {
  size_t max_q = 0;
  run_client(4000,
             {.high_water = 2,
              .spin = std::chrono::microseconds(20),
              .mode = [](uint64_t) { return StreamCheck::kFields; }},
             nullptr, &max_q);
  EXPECT_LT(max_q, 2000u) << "the message bound did not hold";
}

// The callback switches between reading fields and types only, per message and per phase, with
// the worker behind (tiny high water) and not.
TEST(LazyClient, SwitchingCallbackFastAndBehind) {
  auto switching = [](uint64_t k) {
    if (k % 7 == 0) return StreamCheck::kCopy;
    if ((k / 500) % 3 == 0) return StreamCheck::kTypeOnly;
    if ((k / 500) % 3 == 1) return StreamCheck::kFields;
    return k % 2 ? StreamCheck::kPartial : StreamCheck::kTypeOnly;
  };
  run_client(6000, {.mode = switching});
  run_client(3000, {.high_water = 3, .spin = std::chrono::microseconds(10), .mode = switching});
}

// Back-pressure bounds the queue's memory for a type-only and a fields callback alike, and
// loses nothing: ~3 MB sent, a 64 KiB byte mark.
TEST(LazyClient, BackPressureBoundsMemoryWhateverTheCallbackReads) {
  constexpr size_t kMark = 64 * 1024;
  constexpr uint64_t kN = 25000;
  for (auto mode : {StreamCheck::kTypeOnly, StreamCheck::kFields}) {
    SCOPED_TRACE(mode == StreamCheck::kTypeOnly ? "type only" : "fields");
    size_t max_bytes = 0;
    run_client(kN,
               {.high_water_bytes = kMark,
                .spin = std::chrono::microseconds(3),
                .mode = [mode](uint64_t) { return mode; }},
               &max_bytes);
    EXPECT_GT(max_bytes, 0u);
    EXPECT_LE(max_bytes, kMark + 512 * 1024) << "queued_bytes peaked at " << max_bytes;
  }
}

// Messages the loop thread itself looks at (loginres, error with code 0, pingreq) carry escaped
// fields: the callback must still get them decoded exactly once.
TEST(LazyClient, LoopSideMessagesWithEscapesAreDecodedOnce) {
  const std::vector<std::string> bodies = {
      "type@=loginres/userid@=0/roomgroup@=0/pg@=0/sessionid@=0/username@=u@Sx@Ay/"
      "nickname@=n@Ay@Sz/live_stat@=1/",
      "type@=error/code@=0/txt@=x@Sy@Az/k@Ae@=v@S/",
      "type@=pingreq/tick@=1@S2/",
      "type@=chatmsg/txt@=a@Sb/",
      "type@=error/code@=0/txt@=again@S@S/",
      "type@=mrkl/x@=@A@S/",
  };
  for (size_t high_water : {size_t{8192}, size_t{1}}) {
    SCOPED_TRACE("receive_high_water " + std::to_string(high_water));
    Loop loop;
    std::string script;
    for (int round = 0; round < 50; ++round) {
      for (size_t i = round == 0 ? 0 : 1; i < bodies.size(); ++i) script += server_frame(bodies[i]);
    }
    RawServer server(loop, [&](int) { return Script{script, Script::kKeepOpen}; });
    auto o = raw_options(server.port());
    o.receive_high_water = high_water;
    std::mutex mutex;
    std::vector<Fields> got;
    std::vector<std::string> types;
    DouyuClient client(loop, o, [&](const Message& m) {
      std::lock_guard lock(mutex);
      types.emplace_back(m.type());
      got.push_back(fields_of(m));
      if (high_water == 1) spin_for(std::chrono::microseconds(50));
    });
    client.start();
    const size_t total = 1 + 50 * (bodies.size() - 1);
    EXPECT_TRUE(run_until(loop, [&] {
      std::lock_guard lock(mutex);
      return got.size() >= total;
    }));
    client.stop();
    client.join();
    std::lock_guard lock(mutex);
    ASSERT_EQ(got.size(), total);
    EXPECT_EQ(client.reconnects(), 0u);
    size_t k = 0;
    for (int round = 0; round < 50; ++round) {
      for (size_t i = round == 0 ? 0 : 1; i < bodies.size(); ++i, ++k) {
        const Expected want = reference(bodies[i]);
        EXPECT_EQ(types[k], want.type) << k;
        EXPECT_EQ(got[k], want.fields) << k << " " << describe(bodies[i]);
        if (HasFailure()) return;
      }
    }
  }
}

// A server thread writing the stream in random chunks of 1..700 bytes, so frames, escapes and
// headers straddle reads (TCP_NODELAY: the chunks leave as they are written).
class ChunkServer {
 public:
  ChunkServer(std::string script, uint32_t seed) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("ChunkServer: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, script = std::move(script), seed] { serve(script, seed); });
  }
  ~ChunkServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  uint16_t port() const { return port_; }

 private:
  bool wait_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 20) > 0;
  }
  void serve(const std::string& script, uint32_t seed) {
    int fd = -1;
    while (!stop_ && fd < 0) {
      if (wait_readable(listener_)) fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    }
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string got;
    bool ok = true;
    while (!stop_ && got.find("loginreq") == std::string::npos) {
      if (!wait_readable(fd)) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ok = false;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    std::mt19937 rng(seed);
    size_t off = 0;
    while (ok && !stop_ && off < script.size()) {
      const size_t n = std::min<size_t>(1 + rng() % 700, script.size() - off);
      const ssize_t w = ::send(fd, script.data() + off, n, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    while (ok && !stop_) {  // until the client's EOF
      if (!wait_readable(fd)) continue;
      char buf[4096];
      if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
    }
    ::close(fd);
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(LazyClient, FramesStraddlingReadsDecodeOnce) {
  constexpr uint64_t kN = 3000;
  for (size_t high_water : {size_t{8192}, size_t{2}}) {
    SCOPED_TRACE("receive_high_water " + std::to_string(high_water));
    ChunkServer server(stream_script(kN), static_cast<uint32_t>(high_water));
    Loop loop;
    auto o = raw_options(server.port());
    o.receive_high_water = high_water;
    StreamCheck check(kN);
    std::atomic<uint64_t> count{0};
    DouyuClient client(loop, o, [&](const Message& m) {
      const uint64_t k = ++count;
      check.check(m, k % 3 == 0 ? StreamCheck::kTypeOnly : StreamCheck::kFields);
    });
    client.start();
    EXPECT_TRUE(run_until(
        loop, [&] { return check.next() == kN + 1; }, 25))
        << "delivered up to c" << check.next() - 1;
    client.stop();
    client.join();
    EXPECT_EQ(check.failures(), 0u) << check.first_failure();
    EXPECT_EQ(client.reconnects(), 0u);
  }
}

// Two pooled clients on ONE pool thread, one reading types only, the other fields.
TEST(LazyClient, PooledClientsOnOneLaneReadingDifferently) {
  constexpr uint64_t kN = 5000;
  Loop loop;
  const std::string script = stream_script(kN);
  RawServer server(loop, [&](int) { return Script{script, Script::kKeepOpen}; });
  auto pool = std::make_shared<WorkerPool>(1);
  StreamCheck typed(kN), full(kN);
  auto o = raw_options(server.port());
  o.worker_pool = pool;
  DouyuClient a(loop, o, [&](const Message& m) { typed.check(m, StreamCheck::kTypeOnly); });
  DouyuClient b(loop, o, [&](const Message& m) { full.check(m, StreamCheck::kFields); });
  a.start();
  b.start();
  EXPECT_TRUE(run_until(
      loop, [&] { return typed.next() == kN + 1 && full.next() == kN + 1; }, 25));
  a.stop();
  b.stop();
  a.join();
  b.join();
  EXPECT_EQ(typed.failures(), 0u) << typed.first_failure();
  EXPECT_EQ(full.failures(), 0u) << full.first_failure();
  EXPECT_EQ(a.delivered(), kN + 1);
  EXPECT_EQ(b.delivered(), kN + 1);
}

// A typed handler (DouyuHandler): on_chat gets named fields decoded from a lazily lent body with
// escapes; on_other reads only the type. Every message once, in order.
TEST(LazyClient, TypedHandlerNamedFieldsFromLazyBodies) {
  constexpr uint64_t kN = 3000;
  auto chat_body = [](uint64_t seq) {
    return "type@=chatmsg/rid@=1/uid@=" + std::to_string(seq) +
           "/nn@=" + stt_escape("n/" + std::to_string(seq) + "@") +
           "/txt@=" + stt_escape(text_for(seq)) + "/level@=" + std::to_string(seq % 30) + "/";
  };
  std::string script = kLoginRes;
  for (uint64_t s = 1; s <= kN; ++s) {
    script += server_frame(s % 2 ? chat_body(s) : stream_body(s));
  }
  struct Handler : DouyuHandler {
    std::mutex mutex;
    uint64_t next = 1, bad = 0, logins = 0;
    std::string first_bad;
    void fail(const std::string& what) {
      if (bad++ == 0) first_bad = what;
    }
    void on_chat(const ChatMsg& c, const Message& m) override {
      std::lock_guard lock(mutex);
      const uint64_t seq = std::strtoull(std::string(c.uid).c_str(), nullptr, 10);
      if (seq != next) fail("chat out of order: " + std::string(c.uid));
      next = seq + 1;
      if (c.txt != text_for(seq) || c.nn != "n/" + std::to_string(seq) + "@" ||
          c.level != static_cast<int64_t>(seq % 30) || m.type() != "chatmsg" ||
          m.get_or("txt") != c.txt) {
        fail("chat fields of " + std::to_string(seq));
      }
    }
    void on_login(const LoginResponse&, const Message&) override {
      std::lock_guard lock(mutex);
      ++logins;
    }
    void on_other(const Message& m) override {
      std::lock_guard lock(mutex);
      const uint64_t seq = seq_of_type(m.type());
      if (seq != next) fail("other out of order: " + std::string(m.type()));
      next = seq + 1;
    }
  } handler;
  Loop loop;
  RawServer server(loop, [&](int) { return Script{script, Script::kKeepOpen}; });
  DouyuClient client(loop, raw_options(server.port()), handler);
  client.start();
  EXPECT_TRUE(run_until(loop, [&] {
    std::lock_guard lock(handler.mutex);
    return handler.next == kN + 1;
  }));
  client.stop();
  client.join();
  std::lock_guard lock(handler.mutex);
  EXPECT_EQ(handler.bad, 0u) << handler.first_bad;
  EXPECT_EQ(handler.logins, 1u);
  EXPECT_EQ(client.delivered(), kN + 1);
}

// Against the simulator: a type-only client and a Collector (reads seq) in the same room see the
// same stream, exactly once and in order.
TEST(LazyClient, SimulatorTypeOnlyAndFieldReadersAgree) {
  constexpr uint64_t kN = 3000;
  Loop loop;
  auto server = simulator(loop, SimulatorOptions{.rate = 0, .flood = kN});
  Collector full;
  std::mutex mutex;
  std::vector<std::string> typed;
  DouyuClient a(loop, options_for(*server), [&](const Message& m) {
    std::lock_guard lock(mutex);
    typed.emplace_back(m.type());
  });
  DouyuClient b(loop, options_for(*server), full.callback());
  a.start();
  b.start();
  EXPECT_TRUE(run_until(
      loop,
      [&] {
        std::lock_guard lock(mutex);
        return full.room_messages() == kN && typed.size() >= kN + 1;
      },
      25));
  a.stop();
  b.stop();
  a.join();
  b.join();
  EXPECT_TRUE(is_one_to_n(full.seqs(), kN));
  std::lock_guard lock(mutex);
  auto room_types = [](const std::vector<std::string>& types) {
    std::vector<std::string> r;
    for (const auto& t : types) {
      if (t != "loginres" && t != "mrkl" && t != "pingreq") r.push_back(t);
    }
    return r;
  };
  EXPECT_EQ(room_types(typed), room_types(full.types()));
  EXPECT_EQ(room_types(typed).size(), kN);
  EXPECT_EQ(a.delivered(), a.frames_received());
}

}  // namespace
}  // namespace asyncore::douyu::test
