#include "core/metrics.h"

#include <cmath>
#include <cstdio>

namespace plumb::metrics {
namespace {
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string LabelText(const Labels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + Escape(v) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

void Registry::Describe(const std::string& name, Type type, const std::string& help,
                        std::vector<double> buckets) {
  std::lock_guard<std::mutex> l(mu_);
  if (families_.count(name)) return;
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  if (type == Type::kHistogram && buckets.empty())
    buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  f.buckets = std::move(buckets);
}

Registry::Series& Registry::Get(Family& f, const Labels& labels) {
  std::string key = LabelText(labels);
  auto it = f.series.find(key);
  if (it != f.series.end()) return it->second;
  Series& s = f.series[key];
  s.labels = labels;
  s.bucket_counts.assign(f.buckets.size(), 0);
  return s;
}

void Registry::Add(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> l(mu_);
  Get(families_[name], labels).value += value;
}

void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> l(mu_);
  Get(families_[name], labels).value = value;
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> l(mu_);
  Family& f = families_[name];
  Series& s = Get(f, labels);
  for (size_t i = 0; i < f.buckets.size(); ++i)
    if (value <= f.buckets[i]) s.bucket_counts[i]++;
  s.sum += value;
  s.count++;
}

void Registry::Forget(const std::string& name, const std::string& label, const std::string& value) {
  std::lock_guard<std::mutex> l(mu_);
  auto fit = families_.find(name);
  if (fit == families_.end()) return;
  auto& series = fit->second.series;
  for (auto it = series.begin(); it != series.end();) {
    bool match = false;
    for (const auto& [k, v] : it->second.labels) match |= k == label && v == value;
    it = match ? series.erase(it) : std::next(it);
  }
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [key, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += name + key + " " + Number(s.value) + "\n";
        continue;
      }
      for (size_t i = 0; i < f.buckets.size(); ++i)
        out += name + "_bucket" + LabelText(s.labels, "le=\"" + Number(f.buckets[i]) + "\"") + " " +
               std::to_string(s.bucket_counts[i]) + "\n";
      out += name + "_bucket" + LabelText(s.labels, "le=\"+Inf\"") + " " + std::to_string(s.count) +
             "\n";
      out += name + "_sum" + key + " " + Number(s.sum) + "\n";
      out += name + "_count" + key + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

Registry& Default() {
  static Registry* r = new Registry();
  return *r;
}

}  // namespace plumb::metrics
