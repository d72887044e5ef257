// A connection's queue of frames waiting to be written, bounded in bytes by the caller.
//
// Empty queues own no memory (an idle connection must stay small), and frames are shared
// references, so a fan-out to many connections copies no message bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "relay/protocol/frame.h"

namespace rt {

class SendQueue {
public:
    bool empty() const { return head_ == items_.size(); }
    size_t frames() const { return items_.size() - head_; }
    int64_t bytes() const { return bytes_; }
    // Frames ever pushed, and ever handed to the socket (popped): a frame numbered n
    // (pushed() before its push) was written once written() > n. clear() writes nothing.
    uint64_t pushed() const { return pushed_; }
    uint64_t written() const { return popped_; }

    void push(FrameRef f) {
        bytes_ += static_cast<int64_t>(f->size());
        items_.push_back(std::move(f));
        ++pushed_;
    }
    Frame& front() { return *items_[head_]; }
    Frame& at(size_t i) { return *items_[head_ + i]; }  // i < frames()
    void pop() {
        bytes_ -= static_cast<int64_t>(items_[head_]->size());
        items_[head_++].reset();
        ++popped_;
        if (head_ == items_.size()) release_if_drained();
    }
    void clear() {
        items_.clear();
        items_.shrink_to_fit();
        head_ = 0;
        bytes_ = 0;
    }

private:
    void release_if_drained() {
        head_ = 0;
        if (items_.capacity() > 64) {
            std::vector<FrameRef>().swap(items_);  // a burst's memory goes back
        } else {
            items_.clear();
        }
    }

    std::vector<FrameRef> items_;
    size_t head_ = 0;
    int64_t bytes_ = 0;
    uint64_t pushed_ = 0;
    uint64_t popped_ = 0;
};

}  // namespace rt
