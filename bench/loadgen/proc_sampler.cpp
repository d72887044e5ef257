// Owns: /proc sampling (see proc_sampler.h).
#include "bench/loadgen/proc_sampler.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace lg {

static double one_cpu_seconds(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return -1;
    // the command name may hold spaces and parentheses: fields start after the last ')'
    auto close = line.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // after ')' : state(3) ppid(4) ... utime(14) stime(15)
    for (int i = 3; i <= 15 && rest >> field; i++) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    long hz = sysconf(_SC_CLK_TCK);
    return double(utime + stime) / double(hz > 0 ? hz : 100);
}

double proc_cpu_seconds(const std::vector<int>& pids) {
    double total = 0;
    for (int pid : pids) {
        double s = one_cpu_seconds(pid);
        if (s < 0) return -1;
        total += s;
    }
    return total;
}

int64_t proc_rss_kb(const std::vector<int>& pids) {
    int64_t total = 0;
    for (int pid : pids) {
        std::ifstream f("/proc/" + std::to_string(pid) + "/status");
        std::string line;
        int64_t kb = -1;
        while (std::getline(f, line)) {
            if (line.rfind("VmRSS:", 0) == 0) {
                kb = std::stoll(line.substr(6));
                break;
            }
        }
        if (kb < 0) return -1;
        total += kb;
    }
    return total;
}

double machine_busy_seconds() {
    std::ifstream f("/proc/stat");
    std::string cpu;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu")
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return double(user + nice + system + irq + softirq + steal) / double(hz > 0 ? hz : 100);
}

double self_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace lg
