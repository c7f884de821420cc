// The first layer of the Fashion-MNIST networks, a 3x3 convolution of one grey channel, done by
// hand (native/src/first_layer.cc): oneDNN runs it far below the machine's peak (one input
// channel gives its kernels nothing to vectorise over but the output channels).
#pragma once

#include <cstdint>

namespace fcnn {

// The convolution's shape, as the struct convGeometry has it.
struct ConvShape {
  int64_t N, H, W, C, KH, KW, OC, OH, OW, SH, SW, DH, DW, padT, padL, padB, padR;
};

// Whether first_conv_forward computes this convolution with activation code `act`.
bool first_conv_fits(const ConvShape& g, int act);

// y[n0 .. n1) = act(conv(x, w) + b) (then * scale + shift per channel when scale_shift is given:
// a folded inference batch norm); x, y: the whole batch's tensors; b may be null. Threaded over
// the rows of the images.
void first_conv_forward(const ConvShape& g, const float* x, const float* w, const float* b, int act,
                        const float* scale_shift, float* y, int64_t n0, int64_t n1);

}  // namespace fcnn
