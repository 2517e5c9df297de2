// oneDNN's direct convolutions as XLA FFI custom calls, for the course's CPU training step.
//
// Three handlers, one per pass of a 2-D convolution in the course's layouts
// (images x: [B, H, W, C] NHWC, kernels w: [KH, KW, C, O] HWIO, float32):
//   LeptonlabConvForward        y  = conv(x, w)                 y:  [B, Ho, Wo, O]
//   LeptonlabConvBackwardData   dx = conv^T(dy, w)              dx: [B, H, W, C]
//   LeptonlabConvBackwardWeights dw = sum over B, Ho, Wo of x (x) dy   dw: [KH, KW, C, O]
// Attributes: stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right (int64).
//
// oneDNN picks its own blocked kernel layout ("any"); the kernel is reordered into it on each
// call (a few hundred KiB) and the weight gradient back out of it. Primitives are built once per
// shape and kept in a cache; each call passes its own scratchpad, so concurrent calls are safe.
// Built by leptonlab/onednn.py (g++ at first use); leptonlab.kernels routes to it on the CPU.

#include <cstdint>
#include <cstdlib>
#include <new>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = memory::format_tag;

namespace {

struct Geometry {
  int64_t b, h, w, c, ho, wo, o, kh, kw, sh, sw, pt, pb, pl, pr;
  auto key(int pass) const {
    return std::make_tuple(pass, b, h, w, c, o, kh, kw, sh, sw, pt, pb, pl, pr);
  }
};

struct Primitives {
  dnnl::primitive main;
  memory::desc weights_md;  // the layout oneDNN chose for this pass's (diff) weights
  memory::desc user_weights_md;
  bool reorder_weights = false;
  dnnl::reorder weights_reorder;    // user -> chosen (forward, backward data); chosen -> user
  memory::desc scratchpad_md;
};

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::desc Nhwc(int64_t b, int64_t c, int64_t h, int64_t w) {
  return memory::desc({b, c, h, w}, memory::data_type::f32, tag::nhwc);
}

dnnl::primitive_attr Attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

enum Pass { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

std::shared_ptr<Primitives> Build(const Geometry& g, Pass pass) {
  auto& eng = Engine();
  auto src = Nhwc(g.b, g.c, g.h, g.w), dst = Nhwc(g.b, g.o, g.ho, g.wo);
  memory::dims wdims{g.o, g.c, g.kh, g.kw}, strides{g.sh, g.sw}, pad_l{g.pt, g.pl},
      pad_r{g.pb, g.pr};
  auto any = memory::desc(wdims, memory::data_type::f32, tag::any);
  auto user = memory::desc(wdims, memory::data_type::f32, tag::hwio);
  auto attr = Attr();
  auto fwd_pd = dnnl::convolution_forward::primitive_desc(
      eng, dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src, any, dst,
      strides, pad_l, pad_r, attr);
  auto p = std::make_shared<Primitives>(Primitives{{}, {}, user});
  if (pass == kForward) {
    p->main = dnnl::convolution_forward(fwd_pd);
    p->weights_md = fwd_pd.weights_desc();
    p->scratchpad_md = fwd_pd.scratchpad_desc();
  } else if (pass == kBackwardData) {
    auto pd = dnnl::convolution_backward_data::primitive_desc(
        eng, dnnl::algorithm::convolution_direct, src, any, dst, strides, pad_l, pad_r, fwd_pd,
        attr);
    p->main = dnnl::convolution_backward_data(pd);
    p->weights_md = pd.weights_desc();
    p->scratchpad_md = pd.scratchpad_desc();
  } else {
    auto pd = dnnl::convolution_backward_weights::primitive_desc(
        eng, dnnl::algorithm::convolution_direct, src, any, dst, strides, pad_l, pad_r, fwd_pd,
        attr);
    p->main = dnnl::convolution_backward_weights(pd);
    p->weights_md = pd.diff_weights_desc();
    p->scratchpad_md = pd.scratchpad_desc();
  }
  p->reorder_weights = p->weights_md != user;
  if (p->reorder_weights) {
    p->weights_reorder = pass == kBackwardWeights
                             ? dnnl::reorder(dnnl::reorder::primitive_desc(
                                   eng, p->weights_md, eng, user))
                             : dnnl::reorder(dnnl::reorder::primitive_desc(
                                   eng, user, eng, p->weights_md));
  }
  return p;
}

std::shared_ptr<Primitives> Get(const Geometry& g, Pass pass) {
  static std::mutex mu;
  static std::map<decltype(g.key(0)), std::shared_ptr<Primitives>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[g.key(pass)];
  if (!slot) slot = Build(g, pass);
  return slot;
}

// Per-thread buffers for the reordered kernel and the scratchpad, grown as needed.
class AlignedBuffer {
 public:
  void* Reserve(size_t bytes) {
    if (bytes > size_) {
      data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
      size_ = data_ ? bytes : 0;
      if (!data_) throw std::bad_alloc();
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

struct Buffers {
  AlignedBuffer weights, scratchpad;
};

Buffers& ThreadBuffers() {
  thread_local Buffers buffers;
  return buffers;
}

ffi::Error Run(const Geometry& g, Pass pass, float* x, float* w, float* y) {
  // x: image or its gradient [B, H, W, C]; w: kernel or its gradient [KH, KW, C, O];
  // y: output or its gradient [B, Ho, Wo, O].
  try {
    auto p = Get(g, pass);
    auto& eng = Engine();
    dnnl::stream stream(eng);
    auto& buf = ThreadBuffers();
    memory user_w(p->user_weights_md, eng, w), chosen_w = user_w;
    if (p->reorder_weights) {
      chosen_w = memory(p->weights_md, eng, buf.weights.Reserve(p->weights_md.get_size()));
      if (pass != kBackwardWeights) p->weights_reorder.execute(stream, user_w, chosen_w);
    }
    memory scratch(p->scratchpad_md, eng,
                   buf.scratchpad.Reserve(p->scratchpad_md.get_size() + 1));
    memory mx(Nhwc(g.b, g.c, g.h, g.w), eng, x), my(Nhwc(g.b, g.o, g.ho, g.wo), eng, y);
    if (pass == kForward) {
      p->main.execute(stream, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, chosen_w},
                               {DNNL_ARG_DST, my}, {DNNL_ARG_SCRATCHPAD, scratch}});
    } else if (pass == kBackwardData) {
      p->main.execute(stream, {{DNNL_ARG_DIFF_DST, my}, {DNNL_ARG_WEIGHTS, chosen_w},
                               {DNNL_ARG_DIFF_SRC, mx}, {DNNL_ARG_SCRATCHPAD, scratch}});
    } else {
      p->main.execute(stream, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, my},
                               {DNNL_ARG_DIFF_WEIGHTS, chosen_w}, {DNNL_ARG_SCRATCHPAD, scratch}});
      if (p->reorder_weights) p->weights_reorder.execute(stream, chosen_w, user_w);
    }
    stream.wait();
  } catch (const dnnl::error& e) {
    return ffi::Error(ffi::ErrorCode::kInternal,
                      std::string("leptonlab oneDNN convolution failed: ") + e.what());
  } catch (const std::bad_alloc&) {
    return ffi::Error(ffi::ErrorCode::kResourceExhausted,
                      "leptonlab oneDNN convolution: out of memory for its buffers");
  }
  return ffi::Error::Success();
}

Geometry MakeGeometry(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w,
                      ffi::Span<const int64_t> y, int64_t sh, int64_t sw, int64_t pt, int64_t pb,
                      int64_t pl, int64_t pr) {
  return Geometry{x[0], x[1], x[2], x[3], y[1], y[2], y[3], w[0], w[1], sh, sw, pt, pb, pl, pr};
}

ffi::Error Forward(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                   ffi::ResultBuffer<ffi::F32> y, int64_t sh, int64_t sw, int64_t pt, int64_t pb,
                   int64_t pl, int64_t pr) {
  auto g = MakeGeometry(x.dimensions(), w.dimensions(), y->dimensions(), sh, sw, pt, pb, pl, pr);
  return Run(g, kForward, x.typed_data(), w.typed_data(), y->typed_data());
}

ffi::Error BackwardData(ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> w,
                        ffi::ResultBuffer<ffi::F32> dx, int64_t sh, int64_t sw, int64_t pt,
                        int64_t pb, int64_t pl, int64_t pr) {
  auto g = MakeGeometry(dx->dimensions(), w.dimensions(), dy.dimensions(), sh, sw, pt, pb, pl, pr);
  return Run(g, kBackwardData, dx->typed_data(), w.typed_data(), dy.typed_data());
}

ffi::Error BackwardWeights(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                           ffi::ResultBuffer<ffi::F32> dw, int64_t sh, int64_t sw, int64_t pt,
                           int64_t pb, int64_t pl, int64_t pr) {
  auto g = MakeGeometry(x.dimensions(), dw->dimensions(), dy.dimensions(), sh, sw, pt, pb, pl, pr);
  return Run(g, kBackwardWeights, x.typed_data(), dw->typed_data(), dy.typed_data());
}

#define LEPTONLAB_CONV_ATTRS                                                             \
  .Attr<int64_t>("stride_h").Attr<int64_t>("stride_w").Attr<int64_t>("pad_top")         \
      .Attr<int64_t>("pad_bottom").Attr<int64_t>("pad_left").Attr<int64_t>("pad_right")

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(LeptonlabConvForward, Forward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>() LEPTONLAB_CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(LeptonlabConvBackwardData, BackwardData,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>() LEPTONLAB_CONV_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(LeptonlabConvBackwardWeights, BackwardWeights,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>() LEPTONLAB_CONV_ATTRS);
