// containers: a C++ program living on std containers, the allocation pattern of typical C++ code.
//
// R rounds; each round streams N "words" (std::string of 3..40 chars drawn from a Zipf-like pool,
// so most are repeats and about half are longer than the small-string buffer) through:
//   - std::map<std::string, std::vector<uint32_t>>: word -> positions (tree nodes, growing vectors);
//   - std::unordered_map<uint32_t, std::string>: position -> "word:position", a sliding window of
//     W entries (insert one, erase the oldest: bucket nodes and strings churn, the table rehashes);
//   - std::vector<std::string> log lines built with += and std::to_string, sorted and dropped every
//     4096 lines;
//   - std::deque<std::pair<uint32_t, std::string>> as a FIFO of the last 1024 words;
// then checks everything and destroys it all (every node and buffer freed).
//
// Checks: every position in the map resolves to the word it was recorded for, the positions total
// N, every window entry and FIFO entry is the expected string, the sorted log is in order; a
// mismatch exits 2.
//
// usage: containers [-n words per round=120000] [-r rounds=3] [-w window=50000]
#include "common.h"

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

static std::string make_word(uint32_t k)
{
    uint64_t h = ab_mix(k);
    size_t len = 3 + (size_t)(h % 38);
    std::string w;
    w.reserve(len);
    for (size_t i = 0; i < len; i++) {
        w.push_back((char)('a' + (h % 26)));
        h = h / 26 + (h % 7) * 0x9e3779b97f4a7c15ULL + i;
    }
    return w;
}

int main(int argc, char **argv)
{
    ab_check_opts(argc, argv, "nrw", "[-n words/round=120000] [-r rounds=3] [-w window=50000]");
    const uint32_t n = (uint32_t)ab_opt(argc, argv, 'n', 120000);
    const long rounds = ab_opt(argc, argv, 'r', 3);
    const uint32_t window = (uint32_t)ab_opt(argc, argv, 'w', 50000);
    if (n < 1 || window < 1)
        FAILED("bad parameters");
    const uint32_t pool = 100000;
    ab_rng r;
    ab_seed(&r, 99);
    uint64_t checksum = 0, sorted_lines = 0;

    double t0 = ab_now();
    for (long round = 0; round < rounds; round++) {
        std::vector<uint32_t> ks; // ks[i]: pool index of word i (plain data, reserved once)
        ks.reserve(n);
        std::map<std::string, std::vector<uint32_t>> index;
        std::unordered_map<uint32_t, std::string> win;
        std::vector<std::string> log;
        std::deque<std::pair<uint32_t, std::string>> fifo;
        for (uint32_t i = 0; i < n; i++) {
            // Zipf-like: a uniform draw over a log scale of the pool
            uint32_t k = (uint32_t)(ab_logrange(&r, 1, pool) - 1);
            ks.push_back(k);
            std::string w = make_word(k);
            index[w].push_back(i);
            std::string e = w;
            e += ':';
            e += std::to_string(i);
            win.emplace(i, std::move(e));
            if (i >= window) {
                auto it = win.find(i - window);
                if (it == win.end())
                    CORRUPT("containers: window entry %u missing", i - window);
                win.erase(it);
            }
            std::string line = "word ";
            line += w;
            line += " at ";
            line += std::to_string(i);
            line += " round ";
            line += std::to_string(round);
            log.push_back(std::move(line));
            if (log.size() == 4096) {
                std::sort(log.begin(), log.end());
                if (!std::is_sorted(log.begin(), log.end()))
                    CORRUPT("containers: log not sorted");
                sorted_lines += log.size();
                checksum += log.front().size() * 31 + log.back().size();
                log.clear();
                log.shrink_to_fit();
            }
            fifo.emplace_back(k, std::move(w));
            if (fifo.size() > 1024) {
                if (fifo.front().second != make_word(fifo.front().first))
                    CORRUPT("containers: fifo entry changed");
                fifo.pop_front();
            }
        }
        // check
        uint64_t total = 0;
        for (const auto &kv : index) {
            const std::string &w = kv.first;
            for (uint32_t pos : kv.second) {
                if (pos >= n || make_word(ks[pos]) != w)
                    CORRUPT("containers: map entry '%s' lists position %u of another word",
                            w.c_str(), pos);
            }
            if (!std::is_sorted(kv.second.begin(), kv.second.end()))
                CORRUPT("containers: positions of '%s' out of order", w.c_str());
            total += kv.second.size();
            checksum += kv.second.size() * w.size();
        }
        if (total != n)
            CORRUPT("containers: map holds %llu positions, expected %u", (unsigned long long)total, n);
        uint32_t expect_win = n < window ? n : window;
        if (win.size() != expect_win)
            CORRUPT("containers: window holds %zu entries, expected %u", win.size(), expect_win);
        for (const auto &kv : win) {
            std::string e = make_word(ks[kv.first]) + ":" + std::to_string(kv.first);
            if (kv.second != e)
                CORRUPT("containers: window entry %u is '%s', expected '%s'", kv.first,
                        kv.second.c_str(), e.c_str());
        }
        for (const auto &p : fifo)
            if (p.second != make_word(p.first))
                CORRUPT("containers: fifo entry changed");
        checksum += index.size();
        // everything is destroyed here, at the end of the round's scope
    }
    double t1 = ab_now();
    printf("containers seconds=%.4f cpu=%.3f maxrss_kb=%ld rounds=%ld words=%llu sorted_lines=%llu "
           "checksum=%016llx\n",
           t1 - t0, ab_cpu(), ab_maxrss_kb(), rounds, (unsigned long long)n * (unsigned long long)rounds,
           (unsigned long long)sorted_lines, (unsigned long long)checksum);
    fflush(stdout); /* before exit: see ab_flush_note in common.h */
    return 0;
}
