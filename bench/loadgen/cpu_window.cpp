// Owns: CPU accounting over a measurement window (see cpu_window.h).
#include "bench/loadgen/cpu_window.h"

#include <algorithm>

#include "bench/loadgen/proc_sampler.h"

namespace lg {

void CpuWindow::begin(const Options& o) {
    if (!o.server_pids.empty()) server_start = proc_cpu_seconds(o.server_pids);
    self_start = self_cpu_seconds();
    machine_start = machine_busy_seconds();
}

void CpuWindow::end(const Options& o) {
    if (!o.server_pids.empty()) server_end = proc_cpu_seconds(o.server_pids);
    self_end = self_cpu_seconds();
    machine_end = machine_busy_seconds();
}

double CpuWindow::foreign_seconds() const {
    if (machine_start < 0 || machine_end < 0) return -1;
    double server = server_seconds() > 0 ? server_seconds() : 0;
    return std::max(0.0, (machine_end - machine_start) - server - self_seconds());
}

void CpuWindow::report_machine(Report& rep, double window_s) const {
    auto& j = rep.json();
    double foreign = foreign_seconds();
    j.key("machine").begin_object();
    j.key("busy_s").value(machine_end - machine_start);
    j.key("foreign_cpu_s").value(foreign);
    j.key("foreign_util").value(window_s > 0 && foreign >= 0 ? foreign / window_s : 0);
    j.end_object();
    if (foreign >= 0 && window_s > 0) {
        rep.row("other processes' cpu", Report::num(foreign / window_s * 100, 1) + " % of a core");
        if (foreign / window_s > 0.05)
            rep.warn("other processes used " + Report::num(foreign / window_s * 100, 0) +
                     " % of a core during the measurement: figures may be disturbed");
    }
}

}  // namespace lg
