// The image layers of the layer-traits table (ckpt/layer_traits.h): conv2d, batchnorm2d,
// max and average pooling, global average pooling and flatten. Images are (C, H, W) per row,
// NCHW row-major (model_spec.h's Features). Sizes are f32 (4 bytes). What each one keeps is
// what its backward needs and no more: a convolution its input (like a linear), batch norm its
// input and the batch's per-channel mean and 1/std, max pooling its input (backward finds each
// window's maximum again), average pooling and flatten nothing.
#include "spec/layer_traits_image.h"

namespace ckpt {

int64_t effective_stride(const LayerSpec& l) {
    if (l.stride > 0) return l.stride;
    return l.type == LayerType::conv2d ? 1 : l.kernel;  // PyTorch's defaults
}

int64_t window_output(int64_t n, int64_t kernel, int64_t stride, int64_t padding) {
    const int64_t span = n + 2 * padding - kernel;
    return span < 0 || stride < 1 ? 0 : span / stride + 1;
}

namespace {

using Field = LayerField;
using K = LayerField::Kind;
using R = LayerTraits::Rebuild;
using Range = LayerField::Range;
using Shapes = std::vector<std::vector<int64_t>>;

Features same(const LayerSpec&, const Features& in) { return in; }
void no_input(LayerSpec&, const Features&) {}
Shapes no_params(const LayerSpec&) { return {}; }
int no_draws(const LayerSpec&) { return 0; }
int64_t nothing_kept(const LayerSpec&, int64_t, int64_t, const Features&) { return 0; }

// A window's output image: out channels (conv2d) or the same channels (pooling).
Features windowed(const LayerSpec& l, const Features& in, int64_t channels) {
    const int64_t s = effective_stride(l);
    return Features::image(channels, window_output(in.h, l.kernel, s, l.padding), window_output(in.w, l.kernel, s, l.padding));
}

// The checks every windowed layer shares: the window fits the padded image.
std::string check_window(const LayerSpec& l, const LayerPlace& at, std::string* field) {
    *field = "kernel";
    if (window_output(at.in.h, l.kernel, effective_stride(l), l.padding) < 1 ||
        window_output(at.in.w, l.kernel, effective_stride(l), l.padding) < 1)
        return "a " + std::to_string(l.kernel) + " x " + std::to_string(l.kernel) + " window does not fit the " +
               std::to_string(at.in.h + 2 * l.padding) + " x " + std::to_string(at.in.w + 2 * l.padding) +
               " padded image";
    return {};
}

Field kernel_field() {
    return Field{K::dim, "kernel", true, &LayerSpec::kernel, nullptr, nullptr, "window size (square)"};
}
Field padding_field(const char* help) {
    return Field{K::dim, "padding", false, &LayerSpec::padding, nullptr, nullptr, help};
}

}  // namespace

void add_image_layer_traits(std::vector<LayerTraits>& t) {
    using Takes = LayerTraits::Takes;
    t.push_back({LayerType::conv2d, "conv2d",
                 "2-d convolution over an image (C, H, W): a square kernel, stride, zero padding and groups",
                 {Field{K::dim, "in_channels", true, &LayerSpec::in, nullptr, nullptr, "input channels"},
                  Field{K::dim, "out_channels", true, &LayerSpec::out, nullptr, nullptr, "output channels"},
                  kernel_field(),
                  Field{K::dim, "stride", false, &LayerSpec::stride, nullptr, nullptr, "step of the window (default 1)"},
                  padding_field("zeros added on each side (default 0)"),
                  Field{K::dim, "groups", false, &LayerSpec::groups, nullptr, nullptr,
                        "channel groups, dividing both channel counts (default 1)"},
                  Field{K::flag, "bias", false, nullptr, nullptr, &LayerSpec::bias, "add a bias (default true)"}},
                 R::from_input, "its input (C x H x W floats per row)",
                 [](const LayerSpec& l, const Features& in) { return windowed(l, in, l.out); },
                 [](LayerSpec& l, const Features& in) { l.in = in.c; },
                 [](const LayerSpec& l) {
                     Shapes p{{l.out, l.groups > 0 ? l.in / l.groups : l.in, l.kernel, l.kernel}};
                     if (l.bias) p.push_back({l.out});
                     return p;
                 },
                 [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * in.size() * 4; },
                 [](const LayerSpec& l, double rows, double, const Features& in) {
                     const Features out = windowed(l, in, l.out);
                     return 2.0 * rows * double(out.size()) * double(l.in / std::max<int64_t>(1, l.groups)) *
                            double(l.kernel * l.kernel);
                 },
                 no_draws, "in_channels",
                 [](const LayerSpec& l, const LayerPlace& at, std::string* field) -> std::string {
                     *field = "groups";
                     if (l.groups < 1) return "must be at least 1, got " + std::to_string(l.groups);
                     if (l.in % l.groups != 0 || l.out % l.groups != 0)
                         return std::to_string(l.groups) + " groups do not divide " + std::to_string(l.in) + " input and " +
                                std::to_string(l.out) + " output channels";
                     return check_window(l, at, field);
                 },
                 {"weight", "bias"}, Takes::image});
    t.push_back({LayerType::batchnorm2d, "batchnorm2d",
                 "batch normalisation per channel over the batch and the image (train mode), then scale and shift; "
                 "running mean and variance are buffers",
                 {Field{K::dim, "channels", true, &LayerSpec::dim, nullptr, nullptr, "channels (must match the input)"},
                  Field{K::number, "eps", false, nullptr, &LayerSpec::eps, nullptr, "added to the variance (default 1e-5)",
                        Range::positive},
                  Field{K::number, "momentum", false, nullptr, &LayerSpec::momentum, nullptr,
                        "weight of the batch in the running statistics (default 0.1)", Range::fraction},
                  Field{K::flag, "affine", false, nullptr, nullptr, &LayerSpec::bias, "learned scale and shift (default true)"}},
                 R::no, "its input (C x H x W floats per row) and the batch mean and 1/std of each channel (2 C floats)",
                 same, [](LayerSpec& l, const Features& in) { l.dim = in.c; },
                 [](const LayerSpec& l) { return l.bias ? Shapes{{l.dim}, {l.dim}} : Shapes{}; },
                 [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * in.size() * 4 + 2 * in.c * 4; },
                 [](const LayerSpec&, double rows, double, const Features& in) { return 8.0 * rows * double(in.size()); },
                 no_draws, "channels",
                 [](const LayerSpec&, const LayerPlace& at, std::string* field) -> std::string {
                     // One value per channel has no variance to normalise by (and an unbiased
                     // running variance of 0 / 0); PyTorch refuses it in training too.
                     *field = "type";
                     if (at.rows * at.in.h * at.in.w < 2)
                         return "batch norm needs more than one value per channel (batch x height x width is 1)";
                     return {};
                 },
                 {"weight", "bias"}, Takes::image,
                 [](const LayerSpec& l) { return Shapes{{l.dim}, {l.dim}}; }});
    auto pool_check = [](const LayerSpec& l, const LayerPlace& at, std::string* field) -> std::string {
        *field = "padding";
        if (2 * l.padding > l.kernel)
            return "must be at most half the kernel (" + std::to_string(l.kernel / 2) + "), got " + std::to_string(l.padding);
        return check_window(l, at, field);
    };
    t.push_back({LayerType::maxpool2d, "maxpool2d", "the maximum of each window of each channel",
                 {kernel_field(),
                  Field{K::dim, "stride", false, &LayerSpec::stride, nullptr, nullptr,
                        "step of the window (default: the kernel size)"},
                  padding_field("-inf added on each side, at most half the kernel (default 0)")},
                 R::from_input, "its input (C x H x W floats per row); backward finds each window's maximum again",
                 [](const LayerSpec& l, const Features& in) { return windowed(l, in, in.c); }, no_input, no_params,
                 [](const LayerSpec&, int64_t rows, int64_t, const Features& in) { return rows * in.size() * 4; },
                 [](const LayerSpec& l, double rows, double, const Features& in) {
                     return rows * double(windowed(l, in, in.c).size()) * double(l.kernel * l.kernel);
                 },
                 no_draws, nullptr, pool_check, {}, Takes::image});
    t.push_back({LayerType::avgpool2d, "avgpool2d",
                 "the mean of each window of each channel (padding counts as zeros, as PyTorch's default)",
                 {kernel_field(),
                  Field{K::dim, "stride", false, &LayerSpec::stride, nullptr, nullptr,
                        "step of the window (default: the kernel size)"},
                  padding_field("zeros added on each side, at most half the kernel (default 0)")},
                 R::from_input, "nothing (its backward needs only the shapes)",
                 [](const LayerSpec& l, const Features& in) { return windowed(l, in, in.c); }, no_input, no_params,
                 nothing_kept,
                 [](const LayerSpec& l, double rows, double, const Features& in) {
                     return rows * double(windowed(l, in, in.c).size()) * double(l.kernel * l.kernel);
                 },
                 no_draws, nullptr, pool_check, {}, Takes::image});
    t.push_back({LayerType::global_avgpool, "global_avgpool",
                 "the mean of each channel over the whole image: (C, H, W) to (C, 1, 1)", {}, R::from_input,
                 "nothing (its backward needs only the shapes)",
                 [](const LayerSpec&, const Features& in) { return Features::image(in.c, 1, 1); }, no_input, no_params,
                 nothing_kept, [](const LayerSpec&, double rows, double, const Features& in) { return rows * double(in.size()); },
                 no_draws, nullptr, nullptr, {}, Takes::image});
    t.push_back({LayerType::flatten, "flatten", "an image (C, H, W) as C * H * W flat features (a view, no copy)", {},
                 R::from_input, "nothing (a view of its input)",
                 [](const LayerSpec&, const Features& in) { return Features::flat(in.size()); }, no_input, no_params,
                 nothing_kept, [](const LayerSpec&, double, double, const Features&) { return 0.0; }, no_draws, nullptr,
                 nullptr, {}, Takes::any});
}

}  // namespace ckpt
