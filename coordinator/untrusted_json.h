// Reading a JSON document whose every field may be missing or of another
// type: a report that a person edited, an older or newer program wrote, or
// that was cut short. nlohmann's at() and value() throw on a type mismatch
// and operator[] on a missing key of a const object is undefined; these
// accessors return null / nullopt / 0 instead, and take null for an input so
// that lookups chain: FindField(FindField(&report, "plan"), "echo").
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_UNTRUSTED_JSON_H_
#define FOURTUPLE_COORDINATOR_UNTRUSTED_JSON_H_

#include <cstddef>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// Reports keep their keys in the order they were written.
using ReportJson = nlohmann::ordered_json;

// The member `key` of an object; null when `object` is null or no object,
// or has no such member.
const ReportJson* FindField(const ReportJson* object, const char* key);

// Element `index` of an array; null when there is none.
const ReportJson* ElementAt(const ReportJson* array, size_t index);

// The size of an array; 0 for anything else.
size_t ArraySize(const ReportJson* array);

// A finite number. Numeric strings count too: protobuf's JSON mapping
// writes 64-bit integers (host facts) as strings.
std::optional<double> FiniteNumber(const ReportJson* value);

// A finite number >= 0 (counts, rates, durations).
std::optional<double> NonNegativeNumber(const ReportJson* value);

// The string a value holds; null for anything else.
const std::string* StringValue(const ReportJson* value);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_UNTRUSTED_JSON_H_
