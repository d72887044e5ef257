// The merge of kept changes handed over by another node (see kept_transfer.h).
#include "relay/hub/kept_transfer.h"

#include <algorithm>
#include <iterator>

namespace rt::kept_transfer {
namespace {

bool same(const ChangePos& a, const ChangePos& b) {
    return a.commit_lsn == b.commit_lsn && a.change_index == b.change_index;
}

}  // namespace

void merge(std::vector<ChangeEvent>& replay, std::vector<ChangeEvent> handed) {
    if (handed.empty()) return;
    std::vector<ChangeEvent> all;
    all.reserve(replay.size() + handed.size());
    // replay first: of two copies of one change, the stable sort keeps replay's in front.
    std::move(replay.begin(), replay.end(), std::back_inserter(all));
    std::move(handed.begin(), handed.end(), std::back_inserter(all));
    std::stable_sort(all.begin(), all.end(),
                     [](const ChangeEvent& a, const ChangeEvent& b) { return !(b.pos <= a.pos); });
    replay.clear();
    for (ChangeEvent& ev : all) {
        if (!replay.empty() && ev.pos.valid() && replay.back().pos.valid() && same(replay.back().pos, ev.pos))
            continue;
        replay.push_back(std::move(ev));
    }
}

std::vector<int64_t> not_handed(const std::vector<int64_t>& asked, const KeptHandOver& handed) {
    std::vector<int64_t> missing;
    for (int64_t id : asked)
        if (std::find(handed.handed.begin(), handed.handed.end(), id) == handed.handed.end()) missing.push_back(id);
    return missing;
}

}  // namespace rt::kept_transfer
