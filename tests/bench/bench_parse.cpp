// Parsing benchmark: model files of growing size up to the documented caps (64 MiB, 4,000,000
// JSON values), in the shapes that once made reading slow or unbounded: a real model written
// out block by block, many small objects (the duplicate-key check rescanned each parent: 27 s
// for 400,000 objects), one object with many keys, one long string, and arrays nested to the
// depth limit. Prints MiB/s per size (best of three): a flat column is linear time. Past the
// value cap reading stops at the 4,000,001st value, so larger files of small values cost no
// more. Not run by CTest.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "ckpt/model_spec.h"

namespace {

std::string real_model(size_t bytes) {
    ckpt::ModelSpec s;
    s.name = "bench";
    s.input_shape = {8, 64};
    ckpt::LayerSpec ln, l1, g, l2;
    ln.type = ckpt::LayerType::layernorm;
    ln.dim = 64;
    l1.type = ckpt::LayerType::linear;
    l1.in = 64;
    l1.out = 256;
    g.type = ckpt::LayerType::gelu;
    l2.type = ckpt::LayerType::linear;
    l2.in = 256;
    l2.out = 64;
    const size_t per_block = 560;  // bytes of one block in the canonical JSON
    for (size_t b = 0; b < std::max<size_t>(1, bytes / per_block) && b < ckpt::kMaxBlocks; ++b)
        s.blocks.push_back({"block." + std::to_string(b), {ln, l1, g, l2}, true, b % 2 == 0});
    return ckpt::to_json(s);
}

std::string objects(size_t bytes) {  // {"input": ..., "x": [{}, {}, ...]}: refused at the value cap
    std::string t = R"({"input": {"shape": [2, 4]}, "x": [)";
    while (t.size() + 3 < bytes) t += "{},";
    return t + "{}]}";
}

std::string wide(size_t bytes) {  // one object with many keys: a duplicate check per key
    std::string t = R"({"input": {"shape": [2, 4]}, "x": {)";
    for (size_t i = 0; t.size() + 20 < bytes; ++i) t += "\"k" + std::to_string(i) + "\": 0, ";
    return t + "\"end\": 0}}";
}

std::string long_string(size_t bytes) {
    return R"({"input": {"shape": [2, 4]}, "name": ")" + std::string(bytes, 'x') + "\"}";
}

std::string nested(size_t bytes) {  // arrays nested 60 deep, side by side
    const std::string one = std::string(60, '[') + std::string(60, ']');
    std::string t = R"({"input": {"shape": [2, 4]}, "x": [)";
    while (t.size() + one.size() + 1 < bytes) t += one + ",";
    return t + "[]]}";
}

}  // namespace

int main() {
    const std::vector<std::pair<const char*, std::function<std::string(size_t)>>> shapes = {
        {"real model", real_model}, {"small objects", objects}, {"one wide object", wide},
        {"long string", long_string}, {"nested arrays", nested}};
    std::printf("%-16s %10s %10s %10s  %s\n", "shape", "MiB", "ms", "MiB/s", "result");
    for (const auto& [name, make] : shapes) {
        for (size_t mib : {1, 4, 16, 60}) {
            const std::string text = make(mib << 20);
            double ms = 1e300;
            ckpt::Result<ckpt::ModelSpec> r = ckpt::Error{""};
            for (int rep = 0; rep < 3; ++rep) {  // the best of three: the machine may be shared
                const auto t0 = std::chrono::steady_clock::now();
                r = ckpt::parse_model_spec(text);
                ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            }
            const double size = double(text.size()) / (1 << 20);
            std::string what = r ? std::to_string(r->blocks.size()) + " blocks" : r.error().message;
            if (what.size() > 70) what = what.substr(0, 67) + "...";
            std::printf("%-16s %10.1f %10.1f %10.1f  %s\n", name, size, ms, size / (ms / 1000.0), what.c_str());
        }
    }
    return 0;
}
