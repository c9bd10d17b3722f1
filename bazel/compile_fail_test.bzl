"""`compile_fail_test`: a test that passes when a snippet fails to compile with a message."""

def compile_fail_test(name, src, expect, copts = [], **kwargs):
    """Compiles `src` with the current C++ toolchain and expects failure mentioning `expect`.

    The compile runs at build time and always succeeds as an action (its output and status
    are recorded); the test then fails if the snippet compiled, or if the compiler's message
    lacks `expect`. So a regression shows up as a failing test, not as a broken build.

    A snippet that mentions SOCKPAIR_POSITIVE_CONTROL is compiled a second time with that
    macro defined, and that compile must succeed: the control shows that the refusal comes
    from the misuse itself, not from a typo or a missing include in the snippet.

    Args:
      name: the test's name.
      src: the C++ snippet (.cpp) that must not compile.
      expect: text the compiler's message must contain.
      copts: extra compiler flags for both compiles.
      **kwargs: passed to the sh_test (tags, ...); "compile_fail" is added to its tags.
    """
    log = name + ".compile.log"
    compile = "$(CC) -x c++ -std=c++20 -fsyntax-only -I$(GENDIR)/socketpair/include " + " ".join(copts)
    native.genrule(
        name = name + "_compile",
        srcs = [src, "//socketpair:staged_headers"],
        outs = [log],
        cmd = ("if " + compile + " $(location " + src + ") > $@ 2>&1; " +
               "then echo 'SOCKPAIR: the snippet compiled' >> $@; fi; " +
               "if grep -q SOCKPAIR_POSITIVE_CONTROL $(location " + src + "); then " +
               "if " + compile + " -DSOCKPAIR_POSITIVE_CONTROL $(location " + src + ") > $@.control 2>&1; " +
               "then echo 'SOCKPAIR: the positive control compiled' >> $@; " +
               "else echo 'SOCKPAIR: the positive control did not compile' >> $@; cat $@.control >> $@; fi; " +
               "rm -f $@.control; fi"),
        toolchains = ["@bazel_tools//tools/cpp:current_cc_toolchain"],
        testonly = True,
    )

    # Tagged "compile_fail": the compile uses the toolchain's compiler with fixed flags, none
    # of a configuration's copts, so the sanitizer steps of CI (.ci/run) leave these out as
    # repeats of the g++ step.
    tags = kwargs.pop("tags", [])
    native.sh_test(
        name = name,
        srcs = ["//bazel:expect_compile_failure.sh"],
        args = ["$(location :" + log + ")", "'" + expect + "'"],
        data = [":" + log],
        size = "small",
        tags = tags + ["compile_fail"],
        **kwargs
    )
