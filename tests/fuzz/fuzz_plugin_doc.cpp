// Fuzz target: the output plugin's documents as the relay reads them from the slot.
// An accepted row's spans lie within its text (its record an object), and its views name
// checks it has.
#include "fuzz_input.h"
#include "relay/slot/plugin_doc.h"

using namespace rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    PluginDoc doc;
    std::string error;
    if (!parse_plugin_doc(text, doc, error)) {
        fuzz::require(!error.empty());
        return 0;
    }
    if (doc.type == PluginDoc::Type::Row) {
        const PluginDoc::RowSpans& r = doc.row;
        for (PluginDoc::Span s : {r.schema, r.table, r.commit_timestamp, r.type, r.columns, r.record, r.old_record, r.errors})
            fuzz::require(s.offset <= doc.text.size() && s.size <= doc.text.size() - s.offset);
        if (!r.record.empty()) {
            std::string_view record = doc.span(r.record);
            fuzz::require(record.front() == '{' && record.back() == '}');
        }
        for (const DocView& v : doc.views)
            fuzz::require(v.check == -1 || (v.check >= 0 && static_cast<size_t>(v.check) < doc.checks.size()));
    }
    format_lsn(doc.pos.commit_lsn);
    return 0;
}
