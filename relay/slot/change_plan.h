// What the slot holder decides for a row document, once, for every node: the plain
// targets get the whole row; each view its columns; the candidates of a check only if
// realtime.check_rows lets them through (with their view's columns); failed bindings
// an ending notice. A node receives only what its own subscribers may (the parts of
// delivery_queue). Pure logic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "relay/slot/check_batcher.h"
#include "relay/slot/delivery_queue.h"
#include "relay/slot/plugin_doc.h"

namespace rt {

// The views of one document waiting for one of its checks.
struct CheckedViews {
    int check = 0;  // index in the document's checks
    std::vector<std::pair<std::shared_ptr<const std::string>, NodeIds>> views;  // data, targets

    std::vector<int64_t> candidates() const;  // every id of the views, once
};

// The candidates already told that their check could not be made: told once, until a
// check of theirs succeeds again.
class ToldOnce {
public:
    bool tell(int64_t id);  // true the first time
    void succeeded(int64_t id) { told_.erase(id); }

private:
    std::unordered_set<int64_t> told_;
};

// Fills out's parts with what needs no check (targets, views without a check, failed)
// and returns, per check the document uses, the views waiting for it; each node part
// that has some waits for each of its checks.
std::vector<CheckedViews> plan_row(const PluginDoc& doc, Outgoing& out);

// The check key of a document's check.
CheckKey check_key(const PluginDoc& doc, int check);

// A check's verdict into the document: passing candidates receive their view, those
// whose evaluation failed are told (once); the parts stop waiting for it.
void apply_verdict(const CheckVerdict& verdict, const CheckedViews& views, Outgoing& out, ToldOnce& told);

}  // namespace rt
