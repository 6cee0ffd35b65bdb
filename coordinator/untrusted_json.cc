#include "coordinator/untrusted_json.h"

#include <cmath>

#include "absl/strings/numbers.h"

namespace fourtuple::coordinator {

const ReportJson* FindField(const ReportJson* object, const char* key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  const auto it = object->find(key);
  return it == object->end() ? nullptr : &*it;
}

const ReportJson* ElementAt(const ReportJson* array, size_t index) {
  if (array == nullptr || !array->is_array() || index >= array->size()) return nullptr;
  return &(*array)[index];
}

size_t ArraySize(const ReportJson* array) {
  return array != nullptr && array->is_array() ? array->size() : 0;
}

std::optional<double> FiniteNumber(const ReportJson* value) {
  if (value == nullptr) return std::nullopt;
  double number = 0;
  if (value->is_number()) {
    number = value->get<double>();
  } else if (!value->is_string() || !absl::SimpleAtod(value->get_ref<const std::string&>(), &number)) {
    return std::nullopt;
  }
  if (!std::isfinite(number)) return std::nullopt;
  return number;
}

std::optional<double> NonNegativeNumber(const ReportJson* value) {
  std::optional<double> number = FiniteNumber(value);
  if (!number.has_value() || *number < 0) return std::nullopt;
  return number;
}

const std::string* StringValue(const ReportJson* value) {
  if (value == nullptr || !value->is_string()) return nullptr;
  return &value->get_ref<const std::string&>();
}

}  // namespace fourtuple::coordinator
