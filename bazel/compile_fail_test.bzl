"""`compile_fail_test`: a test that passes when a snippet fails to compile with a message."""

def compile_fail_test(name, src, expect, copts = [], **kwargs):
    """Compiles `src` with the current C++ toolchain and expects failure mentioning `expect`.

    The compile runs at build time and always succeeds as an action (its output and status
    are recorded); the test then fails if the snippet compiled, or if the compiler's message
    lacks `expect`. So a regression shows up as a failing test, not as a broken build.
    """
    log = name + ".compile.log"
    native.genrule(
        name = name + "_compile",
        srcs = [src, "//socketpair:staged_headers"],
        outs = [log],
        cmd = ("if $(CC) -x c++ -std=c++20 -fsyntax-only -I$(GENDIR)/socketpair/include " +
               " ".join(copts) + " $(location " + src + ") > $@ 2>&1; " +
               "then echo 'SOCKPAIR: the snippet compiled' >> $@; fi"),
        toolchains = ["@bazel_tools//tools/cpp:current_cc_toolchain"],
        testonly = True,
    )
    native.sh_test(
        name = name,
        srcs = ["//bazel:expect_compile_failure.sh"],
        args = ["$(location :" + log + ")", "'" + expect + "'"],
        data = [":" + log],
        size = "small",
        **kwargs
    )
