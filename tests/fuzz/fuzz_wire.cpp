// Fuzz target: the cluster wire codec, as a node decodes what a peer sent: the header,
// and the body of the message type the mode byte picks (a change with its hand-over tag,
// the hand-over's acknowledgements and base notices, the inspector's questions and
// answers, the kept changes of moved subscriptions too). A body that decodes is encoded again, and that decodes and encodes to
// the same bytes.
#include "cluster/wire.h"
#include "fuzz_input.h"

using namespace rt;
using namespace rt::cluster;

namespace {

template <typename M>
void round_trip(std::string_view body) {
    M m;
    if (!decode(body, m)) return;
    std::string once = encode(m);
    M again;
    fuzz::require(decode(once, again));
    fuzz::require(encode(again) == once);
}

// A change as the slot holder hands it over: its tag, then the event.
void change_round_trip(std::string_view body) {
    HandOverTag tag;
    ChangeEvent ev;
    if (!decode_change(body, tag, ev)) return;
    std::string once = encode_change(tag, ev);
    HandOverTag tag_again;
    ChangeEvent again;
    fuzz::require(decode_change(once, tag_again, again));
    fuzz::require(encode_change(tag_again, again) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in = fuzz::split(data, size);
    switch (in.mode % 14) {
        case 0: {
            Header h;
            if (decode_header(in.text, h)) {
                Header again;
                fuzz::require(decode_header(encode_header(h), again));
                fuzz::require(again.node == h.node && again.seq == h.seq && again.type == h.type);
            }
            break;
        }
        case 1: round_trip<Heartbeat>(in.text); break;
        case 2: round_trip<BroadcastMsg>(in.text); break;
        case 3: round_trip<PresenceDelta>(in.text); break;
        case 4: round_trip<PresenceSnapshot>(in.text); break;
        case 5: change_round_trip(in.text); break;
        case 6: round_trip<RouteCheck>(in.text); break;
        case 8: round_trip<HandOverAck>(in.text); break;
        case 9: round_trip<HandOverTag>(in.text); break;  // a base notice
        case 10: round_trip<InspectQuery>(in.text); break;
        case 11: round_trip<InspectAnswer>(in.text); break;
        case 12: round_trip<KeptAsk>(in.text); break;       // kept changes of moved subscriptions
        case 13: round_trip<KeptHandOver>(in.text); break;
        default: {
            MsgType type;
            uint64_t seq = 0;
            std::string topic;
            decode_kind(in.text, type, seq);
            broadcast_topic(in.text, topic);
            break;
        }
    }
    return 0;
}
