#include "core/results.hpp"

namespace batch_ops::core {

ItemResult failed_item(const std::string& id, const char* code, std::string message) {
    ItemResult r;
    r.target_id = id;
    r.status = ItemStatus::Failed;
    r.error_code = code;
    r.message = std::move(message);
    r.attempts = 1;
    return r;
}

ItemResult succeeded_item(const std::string& id, std::string message) {
    ItemResult r;
    r.target_id = id;
    r.status = ItemStatus::Succeeded;
    r.message = std::move(message);
    r.attempts = 1;
    return r;
}

Counts count(const std::vector<ItemResult>& items) {
    Counts c;
    c.total = static_cast<int64_t>(items.size());
    for (const auto& i : items) {
        switch (i.status) {
            case ItemStatus::Pending: continue;
            case ItemStatus::Succeeded: ++c.success; break;
            case ItemStatus::Failed: ++c.failure; break;
            case ItemStatus::Skipped: ++c.skipped; break;
            case ItemStatus::Cancelled: ++c.cancelled; break;
        }
        ++c.processed;
    }
    return c;
}

BatchStatus final_status(const Counts& c, bool cancel_requested) {
    if (cancel_requested) return BatchStatus::Cancelled;
    if (c.failure > 0 || c.skipped > 0 || c.cancelled > 0) return BatchStatus::Failed;
    return BatchStatus::Succeeded;
}

Classified classify_sqlstate(const std::string& s) {
    if (s.size() != 5) return {item_error::error, false};
    const std::string cls = s.substr(0, 2);
    if (s == "40001" || s == "40P01") return {item_error::error, true};
    if (s == "55P03") return {item_error::lock_timeout, true};
    if (cls == "23") return {item_error::constraint_violation, false};
    if (s == "42501") return {item_error::permission_denied, false};
    if (cls == "22") return {item_error::validation_failed, false};
    return {item_error::error, false};
}

bool aborts_batch(const std::string& s) {
    if (s.size() != 5) return true;
    const std::string cls = s.substr(0, 2);
    return cls == "57" || cls == "53" || cls == "58" || cls == "XX" || cls == "08" || cls == "F0";
}

bool is_item_specific(const std::string& s) {
    if (s.size() != 5) return true;
    const std::string cls = s.substr(0, 2);
    if (s == "42501") return true;  // row level security WITH CHECK
    return !(cls == "42" || cls == "0A" || cls == "25" || cls == "2F" || cls == "39");
}

std::string item_error_message(const Classified& c, const std::string& sqlstate, const std::string& message) {
    if (std::string(c.error_code) == item_error::error) return message + " (SQLSTATE " + sqlstate + ")";
    return message;
}

void add_results(Json& response, const std::vector<ItemResult>& items, const ResponseOptions& opts) {
    const bool truncate = items.size() > opts.limit;
    Json results = Json::array();
    results.items().reserve(truncate ? 16 : items.size());
    for (const auto& i : items) {
        if (truncate && i.status == ItemStatus::Succeeded) continue;
        Json r = Json::object();
        r.set("target_id", Json::string(i.target_id));
        r.set("success", Json::boolean(i.status == ItemStatus::Succeeded));
        if (i.status != ItemStatus::Succeeded) {
            r.set("status", Json::string(to_string(i.status)));
            if (!i.error_code.empty()) r.set("error_code", Json::string(i.error_code));
        }
        r.set("message", Json::string(i.message));
        results.push(std::move(r));
    }
    response.set("results", std::move(results));
    if (truncate) response.set("results_truncated", Json::boolean(true));
}

const char* success_message(Operation op, bool soft_delete) {
    switch (op) {
        case Operation::Delete: return soft_delete ? "soft-deleted" : "deleted";
        case Operation::Update: return "updated";
        case Operation::StatusUpdate: return "status updated";
        case Operation::Export: return "exported";
        case Operation::Archive: return "archived";
        case Operation::Restore: return "restored";
        case Operation::BulkCreate: return "created";  // status-literal: the message of a created row
    }
    return "ok";
}

}  // namespace batch_ops::core
