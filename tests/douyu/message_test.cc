#include "douyu/protocol/message.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "douyu/protocol/frame_batch.h"

namespace asyncore::douyu {
namespace {

std::vector<std::pair<std::string, std::string>> all(const Message& m) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto [k, v] : m.fields()) out.emplace_back(k, v);
  return out;
}

TEST(MessageTest, KeepsWireOrderAndDuplicateKeys) {
  const Message m("rid@=1/type@=chatmsg/rid@=2/txt@=hi/");
  EXPECT_EQ(m.type(), "chatmsg");  // type is not always first
  EXPECT_EQ(all(m), (std::vector<std::pair<std::string, std::string>>{
                        {"rid", "1"}, {"type", "chatmsg"}, {"rid", "2"}, {"txt", "hi"}}));
  EXPECT_EQ(m.get("rid"), "1");
  EXPECT_EQ(m.get_all("rid"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_FALSE(m.get("nope").has_value());
  EXPECT_EQ(m.get_or("nope", "d"), "d");
  EXPECT_TRUE(m.has("txt"));
  EXPECT_EQ(m.size(), 4u);
}

TEST(MessageTest, UnescapesKeysAndValuesOnce) {
  const Message m("type@=chatmsg/ic@=avatar@Sface@S01/txt@=a@Ab@AS/k@Ay@=1/");
  EXPECT_EQ(m.get_or("ic"), "avatar/face/01");
  EXPECT_EQ(m.get_or("txt"), "a@b@S");
  EXPECT_EQ(m.get_or("k@y"), "1");
}

TEST(MessageTest, ValuesNeedingNoUnescapeAreViewsIntoTheOwnedBody) {
  std::string body = "type@=uenter/nn@=" + std::string(100, 'n') + "/";
  const char* data = body.data();
  const Message m(std::move(body));
  EXPECT_EQ(m.get_or("nn").data(), data + 17);  // no copy: the body moved in, the view is inside
}

TEST(MessageTest, OddInputNeverFailsAndYieldsWhatIsThere) {
  const Message m("type@=x/bare/empty@=/@=novalkey//last@=no-slash");
  EXPECT_EQ(
      all(m),
      (std::vector<std::pair<std::string, std::string>>{
          {"type", "x"}, {"", "bare"}, {"empty", ""}, {"", "novalkey"}, {"last", "no-slash"}}));
  EXPECT_EQ(Message("").size(), 0u);
  EXPECT_EQ(Message("").type(), "");
  EXPECT_EQ(Message("////").size(), 0u);
  EXPECT_EQ(Message("@").get_or(""), "@");
}

TEST(MessageTest, ValuesKeepJsonNewlinesAndEmoji) {
  const Message m("type@=x/j@={\"a\":\"b\",\"n\":[1]}/t@=line1\nline2\r\n/e@=🔥😀/c@=你好/");
  EXPECT_EQ(m.get_or("j"), "{\"a\":\"b\",\"n\":[1]}");
  EXPECT_EQ(m.get_or("t"), "line1\nline2\r\n");
  EXPECT_EQ(m.get_or("e"), "🔥😀");
  EXPECT_EQ(m.get_or("c"), "你好");
}

TEST(MessageTest, GetIntParsesWholeDecimalsOnly) {
  const Message m("a@=42/b@=-7/c@=4x/d@=/e@=99999999999/");
  EXPECT_EQ(m.get_int("a"), 42);
  EXPECT_EQ(m.get_int("b"), -7);
  EXPECT_FALSE(m.get_int("c"));
  EXPECT_FALSE(m.get_int("d"));
  EXPECT_FALSE(m.get_int("zz"));
  EXPECT_EQ(m.get_int("e"), 99999999999);
  EXPECT_EQ(m.get_int_or("c", 5), 5);
}

TEST(MessageTest, MovingKeepsViewsCorrectEvenForShortBodies) {
  // A short body lives inside std::string (SSO); offsets, not pointers, keep this correct.
  Message a("k@=v/");
  Message b = std::move(a);
  EXPECT_EQ(b.get_or("k"), "v");
  std::vector<Message> v;
  for (int i = 0; i < 50; ++i) v.emplace_back("i@=" + std::to_string(i) + "/");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(v[i].get_or("i"), std::to_string(i));
}

TEST(MessageTest, AssignReusesTheMessage) {
  Message m("type@=a/x@=1/");
  m.assign("type@=b/");
  EXPECT_EQ(m.type(), "b");
  EXPECT_EQ(m.size(), 1u);
  EXPECT_FALSE(m.get("x"));
}

TEST(MessageTest, FromFrameTakesTheBody) {
  Frame f{kServerToClient, "type@=mrkl/", 0};
  const Message m = Message::from_frame(std::move(f));
  EXPECT_EQ(m.type(), "mrkl");
  const FrameView view{kServerToClient, "type@=pingreq/tick@=5/", 0};
  EXPECT_EQ(Message::from_view(view).get_int("tick"), 5);
}

TEST(MessageTest, EncodeRestoresTheCanonicalBody) {
  const std::string body = "type@=chatmsg/ic@=a@Sb/txt@=@A@S/";
  EXPECT_EQ(Message(body).encode(), body);
  EXPECT_EQ(Message("bare/").encode(), "@=bare/");
}

TEST(Message, PeekTypeReadsALeadingPlainTypeOnly) {
  EXPECT_EQ(Message::peek_type("type@=chatmsg/rid@=1/"), "chatmsg");
  EXPECT_EQ(Message::peek_type("type@=loginres"), "loginres");  // no final '/'
  EXPECT_EQ(Message::peek_type("type@=/"), "");
  // Anything else needs the decoder: escaped, a second "@=", not first, not a map.
  EXPECT_EQ(Message::peek_type("type@=a@Sb/"), std::nullopt);
  EXPECT_EQ(Message::peek_type("type@=a@=b/"), std::nullopt);
  EXPECT_EQ(Message::peek_type("rid@=1/type@=chatmsg/"), std::nullopt);
  EXPECT_EQ(Message::peek_type("/type@=chatmsg/"), std::nullopt);
  EXPECT_EQ(Message::peek_type("typ"), std::nullopt);
  EXPECT_EQ(Message::peek_type(""), std::nullopt);
  // Whenever it answers, it is type().
  for (std::string_view body : {"type@=chatmsg/type@=x/", "type@=error/code@=0/", "type@=z"}) {
    ASSERT_TRUE(Message::peek_type(body).has_value()) << body;
    EXPECT_EQ(*Message::peek_type(body), Message(std::string(body)).type()) << body;
  }
}

TEST(Message, AssignReusesTheMessageForAnotherBody) {
  Message m(std::string("type@=a/x@=1/y@=2/"));
  m.assign("type@=b@Sc/z@=3/");
  EXPECT_EQ(m.type(), "b/c");
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.get_or("z"), "3");
  EXPECT_FALSE(m.has("x"));
}

// borrow_decoded(): a body decoded in place in memory the Message does not own; a copy owns its
// storage and outlives that memory; a move keeps the borrow; assign() makes it own again.
TEST(Message, BorrowsABodyDecodedInPlaceAndCopiesOwn) {
  std::string wire = "type@=chatmsg/ic@=avatar@Sa.jpg/txt@=hi/";
  RawFieldBuffer fields;
  stt_decode_fields_in_place(wire.data(), wire.size(), fields);
  Message m;
  m.borrow_decoded(wire.data(), wire.size(), {fields.data(), fields.size()});
  EXPECT_EQ(m.type(), "chatmsg");
  EXPECT_EQ(m.get_or("ic"), "avatar/a.jpg");
  EXPECT_EQ(m.get_or("ic").data(), wire.data() + 18);  // a view of the lent memory
  const Message copy = m;
  Message moved = std::move(m);
  EXPECT_EQ(moved.get_or("txt").data(), wire.data() + wire.find("txt@=") + 5);
  std::fill(wire.begin(), wire.end(), 'x');  // the lent memory is reused
  EXPECT_EQ(copy.type(), "chatmsg");
  EXPECT_EQ(copy.get_or("ic"), "avatar/a.jpg");
  EXPECT_EQ(copy.get_or("txt"), "hi");
  EXPECT_EQ(copy.encode(), "type@=chatmsg/ic@=avatar@Sa.jpg/txt@=hi/");
  moved.assign("type@=b/");
  EXPECT_EQ(moved.type(), "b");
  EXPECT_EQ(moved.size(), 1u);
}

// Copies and moves of owning Messages, including short bodies kept inside the string object.
TEST(Message, CopiesAndMovesOfOwningMessagesStayValid) {
  std::vector<Message> v;
  for (int i = 0; i < 100; ++i) v.emplace_back("type@=t/n@=" + std::to_string(i) + "/");
  std::vector<Message> copies = v;
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(copies[i].get_or("n"), std::to_string(i));
    ASSERT_EQ(v[i].type(), "t");
  }
  Message a(std::string("type@=a/"));
  Message b = std::move(a);
  EXPECT_EQ(b.type(), "a");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(a.type(), "");
  a = b;
  EXPECT_EQ(a.type(), "a");
}

TEST(FrameBatch, HoldsBodiesBackToBack) {
  FrameBatch b;
  EXPECT_TRUE(b.empty());
  b.add("type@=a/");
  b.add("");
  b.add("type@=c/x@=1/");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.body(0), "type@=a/");
  EXPECT_EQ(b.body(1), "");
  EXPECT_EQ(b.body(2), "type@=c/x@=1/");
  const size_t small = b.memory_bytes();
  b.recycle(1 << 20);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.memory_bytes(), small);  // capacity kept for the next read
  b.add(std::string(100000, 'x'));
  b.recycle(4096);  // grew beyond what a spare batch may keep: memory given back
  EXPECT_LT(b.memory_bytes(), 4096u);
}

// A batch filled unscanned (the reading thread left the scanning to an idle worker) decodes to
// exactly what a scanned one does, once scan() ran; a batch is scanned whole or not at all.
TEST(FrameBatch, UnscannedBatchScansToTheSameMessages) {
  const std::vector<std::string> bodies = {"type@=chatmsg/nn@=a@Sb/txt@=hi@A/", "",
                                           "type@=dgb/gfid@=1/list@=a@AS1@AS/",
                                           std::string(70000, 'a') + "@=x/"};
  FrameBatch scanned, later;
  for (const auto& body : bodies) scanned.add(body);
  later.add_unscanned(bodies[0]);
  for (size_t i = 1; i < bodies.size(); ++i) later.add(bodies[i]);  // joins the unscanned batch
  EXPECT_TRUE(scanned.scanned());
  EXPECT_FALSE(later.scanned());
  later.scan();
  ASSERT_TRUE(later.scanned());
  ASSERT_EQ(later.size(), scanned.size());
  Message a, b;
  for (size_t i = 0; i < bodies.size(); ++i) {
    scanned.lend(i, a);
    later.lend(i, b);
    EXPECT_EQ(b.type(), a.type()) << i;
    ASSERT_EQ(b.size(), a.size()) << i;
    for (size_t f = 0; f < a.size(); ++f) {
      EXPECT_EQ(b.key(f), a.key(f)) << i << "/" << f;
      EXPECT_EQ(b.value(f), a.value(f)) << i << "/" << f;
    }
  }
  later.scan();  // twice: nothing more to do
  EXPECT_EQ(later.fields(0).size(), scanned.fields(0).size());
  later.recycle(1 << 20);
  EXPECT_TRUE(later.scanned());  // a recycled batch starts scanned again
  later.add("type@=a/");
  EXPECT_TRUE(later.scanned());
  EXPECT_EQ(later.fields(0).size(), 1u);
}

// Lent undecoded, a Message answers type() from the body as it lies: nothing is unescaped (the
// lent bytes still hold their escapes) until something else is read; then it is the Message an
// owning decode gives, and its copy owns.
TEST(Message, LentUndecodedReadsTheTypeWithoutDecodingAndDecodesOnFirstUse) {
  const std::string original = "type@=chatmsg/ic@=avatar@Sa.jpg/txt@=hi@A/";
  std::string wire = original;
  RawFieldBuffer scratch;
  Message m;
  const auto peeked = Message::peek_type(wire);
  ASSERT_TRUE(peeked);
  m.borrow_undecoded(wire.data(), wire.size(), *peeked, scratch);
  EXPECT_EQ(m.type(), "chatmsg");
  EXPECT_EQ(m.type().data(), wire.data() + 6);  // a view of the lent memory
  EXPECT_EQ(m.text_size(), wire.size());
  EXPECT_EQ(wire, original) << "type() decoded the body";
  EXPECT_EQ(scratch.size(), 0u);
  EXPECT_EQ(m.size(), 3u);  // the first use: decoded in place, into the scratch buffer
  EXPECT_NE(wire, original);
  EXPECT_EQ(scratch.size(), 3u);
  const Message owning(original);
  EXPECT_EQ(all(m), all(owning));
  EXPECT_EQ(m.type(), "chatmsg");
  EXPECT_EQ(m.get_or("ic").data(), wire.data() + 18);  // unescaped where it lies
  EXPECT_EQ(m.encode(), original);
  const Message copy = m;
  std::fill(wire.begin(), wire.end(), 'x');  // the lent memory is reused
  scratch.clear();
  EXPECT_EQ(all(copy), all(owning));
  EXPECT_EQ(copy.type(), "chatmsg");
}

// Every accessor but type() decodes first, whichever comes first; a copy or a move of a Message
// still undecoded decodes it (the source's views stay right), and a Message lent again forgets
// the previous body.
TEST(Message, EveryAccessorOfALentMessageDecodesFirst) {
  const std::string original = "type@=dgb/gfid@=1/rid@=7/rid@=8/nn@=a@Sb/";
  const Message owning(original);
  using Read = std::function<void(const Message&)>;
  const std::vector<std::pair<const char*, Read>> reads = {
      {"size", [](const Message& m) { EXPECT_EQ(m.size(), 5u); }},
      {"empty", [](const Message& m) { EXPECT_FALSE(m.empty()); }},
      {"key", [](const Message& m) { EXPECT_EQ(m.key(4), "nn"); }},
      {"value", [](const Message& m) { EXPECT_EQ(m.value(4), "a/b"); }},
      {"field", [](const Message& m) { EXPECT_EQ(m.field(1).value, "1"); }},
      {"fields", [](const Message& m) { EXPECT_EQ(m.fields().size(), 5u); }},
      {"get", [](const Message& m) { EXPECT_EQ(m.get_or("nn"), "a/b"); }},
      {"get_int", [](const Message& m) { EXPECT_EQ(m.get_int_or("rid", 0), 7); }},
      {"get_all", [](const Message& m) { EXPECT_EQ(m.get_all("rid").size(), 2u); }},
      {"has", [](const Message& m) { EXPECT_TRUE(m.has("gfid")); }},
      {"encode", [&](const Message& m) { EXPECT_EQ(m.encode(), original); }},
      {"copy", [&](const Message& m) { EXPECT_EQ(all(Message(m)), all(owning)); }},
  };
  RawFieldBuffer scratch;
  Message m;
  for (const auto& [name, read] : reads) {
    SCOPED_TRACE(name);
    std::string wire = original;
    m.borrow_undecoded(wire.data(), wire.size(), "dgb", scratch);
    read(m);
    EXPECT_EQ(all(m), all(owning));
    EXPECT_EQ(m.type(), "dgb");
  }
  std::string wire = original;
  m.borrow_undecoded(wire.data(), wire.size(), "dgb", scratch);
  Message moved = std::move(m);
  EXPECT_FALSE(moved.decoded());  // the lease moved as it was
  EXPECT_EQ(all(moved), all(owning));
  EXPECT_EQ(moved.type(), "dgb");
  EXPECT_TRUE(m.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(m.type(), "");
  // Lent undecoded, then lent decoded, then owning: each forgets the state before.
  std::string other = "type@=x/a@=1/";
  m.borrow_undecoded(other.data(), other.size(), "x", scratch);
  RawFieldBuffer fields;
  std::string decoded = "type@=y/";
  stt_decode_fields_in_place(decoded.data(), decoded.size(), fields);
  m.borrow_decoded(decoded.data(), decoded.size(), {fields.data(), fields.size()});
  EXPECT_EQ(m.type(), "y");
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(other, "type@=x/a@=1/");
  m.borrow_undecoded(other.data(), other.size(), "x", scratch);
  m.assign("type@=z/");
  EXPECT_EQ(m.type(), "z");
  EXPECT_EQ(m.size(), 1u);
}

// The worker's lend(): a batch the reader scanned lends decoded bodies; one it left unscanned
// lends them undecoded when their type can be read at a glance, and decodes the others now
// (no leading plain type: a type that is not first, escaped or missing). Either way each body
// reads as an owning decode of it, and type() agrees before and after the fields are read.
TEST(FrameBatch, LendsUnscannedBodiesUndecodedAndEachReadsAsAnOwningDecode) {
  const std::vector<std::string> bodies = {"type@=chatmsg/nn@=a@Sb/txt@=hi@A/",
                                           "",
                                           "rid@=1/type@=late/",
                                           "type@=a@Sb/x@=1/",
                                           "type@=t@=u/x@=1/",
                                           "x",
                                           "type@=",
                                           "type@=dgb/list@=a@AS1@AS/",
                                           std::string(70000, 'a') + "@=x/"};
  for (const bool type_first : {true, false}) {
    SCOPED_TRACE(type_first ? "type() first" : "fields first");
    FrameBatch scanned, unscanned;
    for (const auto& body : bodies) {
      scanned.add(body);
      unscanned.add_unscanned(body);
    }
    RawFieldBuffer scratch;
    Message a, b;
    for (size_t i = 0; i < bodies.size(); ++i) {
      SCOPED_TRACE(bodies[i].substr(0, 40));
      const Message owning(bodies[i]);
      scanned.lend(i, a, scratch);
      unscanned.lend(i, b, scratch);
      if (type_first) {
        EXPECT_EQ(b.type(), owning.type());
        EXPECT_EQ(a.type(), owning.type());
      }
      EXPECT_EQ(all(a), all(owning));
      EXPECT_EQ(all(b), all(owning));
      EXPECT_EQ(b.type(), owning.type());
    }
    EXPECT_FALSE(unscanned.scanned());  // lent body by body, never scanned whole
  }
}

TEST(FrameBatch, QueuedBytesAreWhatTheQueueCountedNotWhatScanningAddsLater) {
  FrameBatch b;
  b.add_unscanned("type@=chatmsg/a@=1/b@=2/c@=3/");
  const size_t before = b.memory_bytes();
  b.set_queued_bytes(before);
  b.scan();
  EXPECT_EQ(b.queued_bytes(), before);  // the queue counts down what it counted up
  b.recycle(1 << 20);
  EXPECT_EQ(b.queued_bytes(), 0u);
}

}  // namespace
}  // namespace asyncore::douyu
