#include "ops/sql_text.hpp"

#include "pg/compat.hpp"

extern "C" {
#include "catalog/pg_proc.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/regproc.h"
}

namespace batch_ops::ops {

namespace {

// The helpers below are plain PostgreSQL code: they own no C++ object and are
// only ever called inside pg::guard (from the functions at the end).

const char* check_query_text(const char* text) {
    List* stmts = raw_parser(text, RAW_PARSE_DEFAULT);  // pg-boundary: only called inside pg::guard (query_problem)
    if (list_length(stmts) != 1) return "it must be exactly one statement";
    RawStmt* raw = linitial_node(RawStmt, stmts);
    if (!IsA(raw->stmt, SelectStmt)) return "it must be a SELECT";
    SelectStmt* sel = castNode(SelectStmt, raw->stmt);
    if (sel->intoClause) return "SELECT INTO is not allowed";
    if (sel->lockingClause) return "locking clauses are not allowed";
    return nullptr;
}

const char* check_expression_text(const char* select_text) {
    List* stmts = raw_parser(select_text, RAW_PARSE_DEFAULT);  // pg-boundary: only called inside pg::guard (expression_problem)
    if (list_length(stmts) != 1) return "it must be exactly one expression";
    RawStmt* raw = linitial_node(RawStmt, stmts);
    if (!IsA(raw->stmt, SelectStmt)) return "it must be exactly one expression";
    SelectStmt* sel = castNode(SelectStmt, raw->stmt);
    if (list_length(sel->targetList) != 1 || sel->fromClause || sel->whereClause || sel->groupClause ||
        sel->havingClause || sel->windowClause || sel->sortClause || sel->limitCount || sel->limitOffset ||
        sel->intoClause || sel->lockingClause || sel->withClause || sel->distinctClause || sel->op != SETOP_NONE ||
        sel->valuesLists)
        return "it must be exactly one expression";
    ResTarget* rt = linitial_node(ResTarget, sel->targetList);
    if (rt->name) return "it must be exactly one expression, without AS";
    return nullptr;
}

// What the walk over an analyzed filter found.
struct FilterCheck {
    const char* problem = nullptr;
    Oid volatile_function = InvalidOid;  // the problem is this volatile function
};

bool is_volatile_function(Oid func, void* context) {
    if (func_volatile(func) != PROVOLATILE_VOLATILE) return false;  // pg-boundary: only called inside pg::guard (filter_problem)
    static_cast<FilterCheck*>(context)->volatile_function = func;
    return true;
}

bool filter_walker(Node* node, void* context) {
    auto* check = static_cast<FilterCheck*>(context);
    if (node == nullptr) return false;
    if (IsA(node, Var)) {
        const Var* var = castNode(Var, node);
        if (var->varlevelsup != 0 || var->varno != 1) check->problem = "it may only use columns of the target";
        else if (var->varattno == 0) check->problem = "it may not use a whole-row reference";
        else if (var->varattno < 0) check->problem = "it may not use system columns";
        return check->problem != nullptr;
    }
    if (IsA(node, SubLink) || IsA(node, SubPlan) || IsA(node, AlternativeSubPlan)) {
        check->problem = "subqueries are not allowed";
        return true;
    }
    if (IsA(node, Aggref) || IsA(node, WindowFunc) || IsA(node, GroupingFunc)) {
        check->problem = "aggregate and window functions are not allowed";
        return true;
    }
    if (IsA(node, Param)) {
        check->problem = "parameters are not allowed";
        return true;
    }
    if (IsA(node, NextValueExpr)) {
        check->problem = "it draws a sequence value";
        return true;
    }
    if (check_functions_in_node(node, is_volatile_function, context)) {  // pg-boundary: only called inside pg::guard (filter_problem)
        check->problem = "it calls a volatile function";
        return true;
    }
    return pg::compat::walk_expression(node, filter_walker, context);  // pg-boundary: only called inside pg::guard (filter_problem)
}

void check_filter_query(const char* sql, FilterCheck* check) {
    List* stmts = raw_parser(sql, RAW_PARSE_DEFAULT);  // pg-boundary: only called inside pg::guard (filter_problem)
    if (list_length(stmts) != 1) {
        check->problem = "it must be exactly one expression";
        return;
    }
    RawStmt* raw = linitial_node(RawStmt, stmts);
    const SelectStmt* sel = IsA(raw->stmt, SelectStmt) ? castNode(SelectStmt, raw->stmt) : nullptr;
    if (!sel || sel->op != SETOP_NONE || list_length(sel->fromClause) != 1 || !sel->whereClause || sel->groupClause ||
        sel->havingClause || sel->windowClause || sel->sortClause || sel->limitCount || sel->limitOffset ||
        sel->intoClause || sel->lockingClause || sel->withClause || sel->distinctClause || sel->valuesLists) {
        check->problem = "it must be exactly one expression";
        return;
    }
    Query* q = parse_analyze_fixedparams(raw, sql, nullptr, 0, nullptr);  // pg-boundary: only called inside pg::guard (filter_problem)
    if (q->commandType != CMD_SELECT || list_length(q->rtable) != 1 || q->jointree == nullptr ||
        q->jointree->quals == nullptr || q->hasSubLinks || q->hasAggs || q->hasWindowFuncs ||
        q->hasTargetSRFs || q->cteList != NIL) {
        check->problem = q->hasSubLinks ? "subqueries are not allowed" : "it must be exactly one expression";
        return;
    }
    filter_walker(q->jointree->quals, check);
}

}  // namespace

std::optional<std::string> query_problem(const std::string& query) {
    const char* q = query.c_str();
    const char* problem = pg::guard([&] { return check_query_text(q); });
    if (problem) return std::string(problem);
    return std::nullopt;
}

std::optional<std::string> expression_problem(const std::string& expr) {
    std::string text = "SELECT " + expr;
    const char* t = text.c_str();
    const char* problem = pg::guard([&] { return check_expression_text(t); });
    if (problem) return std::string(problem);
    return std::nullopt;
}

std::string filter_clause(const std::string& where) { return "(\n" + where + "\n)"; }

std::optional<std::string> filter_problem(const std::string& relation, const std::string& alias,
                                          const std::string& where) {
    const std::string sql = "SELECT FROM " + relation + " AS " + alias + " WHERE " + filter_clause(where);
    const char* s = sql.c_str();
    FilterCheck check;
    pg::guard([&] { check_filter_query(s, &check); });
    if (!check.problem) return std::nullopt;
    std::string problem = check.problem;
    if (OidIsValid(check.volatile_function)) {
        const Oid f = check.volatile_function;
        char* name = pg::guard([&] { return format_procedure(f); });
        problem += " (" + std::string(name) + ")";
    }
    return problem;
}

}  // namespace batch_ops::ops
