// core: a small Prometheus metrics registry (counters, gauges, histograms with
// labels) rendered in the text exposition format 0.0.4. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace plumb::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

class Registry {
 public:
  // Declares a family; call once before use (later calls are ignored). Names follow
  // Prometheus conventions (snake_case, unit suffix, `_total` for counters).
  void Describe(const std::string& name, Type type, const std::string& help,
                std::vector<double> buckets = {});
  void Add(const std::string& name, const Labels& labels, double value = 1);  // counters
  void Set(const std::string& name, const Labels& labels, double value);      // gauges
  void Observe(const std::string& name, const Labels& labels, double value);  // histograms
  // Drops every series of a family whose labels contain `label`=`value` (e.g. a removed
  // Application's gauges).
  void Forget(const std::string& name, const std::string& label, const std::string& value);
  // The whole registry in the text format, families sorted by name.
  std::string Render() const;

 private:
  struct Series {
    Labels labels;
    double value = 0;
    std::vector<uint64_t> bucket_counts;
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series& Get(Family& f, const Labels& labels);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// The process-wide registry the operator serves at /metrics.
Registry& Default();

}  // namespace plumb::metrics
