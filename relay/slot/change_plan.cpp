// Deciding a row document's recipients per node.
#include "relay/slot/change_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "relay/slot/change_data.h"

namespace rt {
namespace {

constexpr size_t kMaxTold = 100000;

using Data = std::shared_ptr<const std::string>;

// One data per distinct column list of the document: views with equal columns share it.
class DataCache {
public:
    explicit DataCache(const PluginDoc& doc) : doc_(doc) {}
    Data get(const DocView* view) {
        const std::vector<std::string>* columns = view && !view->all_columns ? &view->columns : nullptr;
        std::string key = columns ? "c" + std::to_string(columns->size()) : "*";
        if (columns)
            for (const std::string& c : *columns) key += "\x1f" + c;
        Data& d = by_columns_[key];
        if (!d) d = std::make_shared<const std::string>(change_data(doc_, columns));
        return d;
    }

private:
    const PluginDoc& doc_;
    std::map<std::string, Data> by_columns_;
};

void add_targets(Outgoing& out, const NodeIds& targets, const Data& data) {
    for (const auto& [node, ids] : targets) out.part(node).add(ids, data);
}

}  // namespace

std::vector<int64_t> CheckedViews::candidates() const {
    std::vector<int64_t> all;
    for (const auto& [data, targets] : views)
        for (const auto& [node, ids] : targets) all.insert(all.end(), ids.begin(), ids.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
}

bool ToldOnce::tell(int64_t id) {
    if (told_.size() >= kMaxTold) told_.clear();  // bounded: some may be told twice
    return told_.insert(id).second;
}

std::vector<CheckedViews> plan_row(const PluginDoc& doc, Outgoing& out) {
    DataCache data(doc);
    if (!doc.targets.empty()) add_targets(out, doc.targets, data.get(nullptr));
    std::vector<CheckedViews> checked;
    for (const DocView& v : doc.views) {
        if (v.check < 0) {
            add_targets(out, v.targets, data.get(&v));
            continue;
        }
        auto it = std::find_if(checked.begin(), checked.end(), [&](const CheckedViews& c) { return c.check == v.check; });
        if (it == checked.end()) it = checked.insert(checked.end(), CheckedViews{v.check, {}});
        it->views.emplace_back(data.get(&v), v.targets);
    }
    for (const auto& [node, failures] : doc.failed)
        for (const DocFailure& f : failures) out.part(node).notices.push_back({f.id, f.message, true});
    for (const CheckedViews& c : checked) {
        std::set<std::string> nodes;
        for (const auto& [d, targets] : c.views)
            for (const auto& [node, ids] : targets) nodes.insert(node);
        for (const std::string& node : nodes) out.part(node).waiting++;
    }
    return checked;
}

CheckKey check_key(const PluginDoc& doc, int check) {
    const DocCheck& c = doc.checks[static_cast<size_t>(check)];
    return CheckKey{doc.schema, doc.table, c.role, c.quals, c.per_user};
}

void apply_verdict(const CheckVerdict& verdict, const CheckedViews& views, Outgoing& out, ToldOnce& told) {
    std::unordered_set<int64_t> passed(verdict.passed.begin(), verdict.passed.end());
    std::unordered_map<int64_t, const std::string*> failed;
    for (const auto& [id, message] : verdict.errors) failed.emplace(id, &message);
    std::set<std::string> nodes;
    for (const auto& [data, targets] : views.views) {
        for (const auto& [node, ids] : targets) {
            nodes.insert(node);
            NodePart& part = out.part(node);
            std::vector<int64_t> through;
            for (int64_t id : ids) {
                auto f = failed.find(id);
                if (f != failed.end()) {
                    if (told.tell(id)) part.notices.push_back({id, *f->second, false});
                    continue;
                }
                told.succeeded(id);
                if (passed.count(id)) through.push_back(id);
            }
            part.add(std::move(through), data);
        }
    }
    for (const std::string& node : nodes) out.part(node).waiting--;
}

}  // namespace rt
