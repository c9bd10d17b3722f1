#!/usr/bin/env python3
"""Counts test cases from one `bazel test` run.

Usage: count_tests.py BUILD_EVENTS_JSON TESTLOGS_DIR

Reads Bazel's build event protocol file for the targets of this run and their outcome, and
each target's JUnit XML (written by GoogleTest, or by Bazel for other tests) for its cases.
Prints `tests: N passed, M failed, K skipped`. A target whose status is not PASSED but
whose XML shows no failing case (a crash, a timeout, a build failure) counts as one failure.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET


def case_counts(xml_path):
    """(passed, failed, skipped) for the test cases in one JUnit XML file."""
    passed = failed = skipped = 0
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return None
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("result") == "skipped":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    bep_path, testlogs = sys.argv[1], sys.argv[2]
    statuses = {}  # label -> overall status
    aborted = set()
    with open(bep_path, encoding="utf-8") as bep:
        for line in bep:
            event = json.loads(line)
            ident = event.get("id", {})
            if "testSummary" in ident:
                label = ident["testSummary"]["label"]
                statuses[label] = event.get("testSummary", {}).get("overallStatus", "PASSED")
            elif "targetCompleted" in ident and event.get("aborted") is None:
                completed = event.get("completed")
                if completed is not None and not completed.get("success", False):
                    aborted.add(ident["targetCompleted"]["label"])
            elif "targetCompleted" in ident and event.get("aborted") is not None:
                aborted.add(ident["targetCompleted"]["label"])

    passed = failed = skipped = 0
    for label, status in sorted(statuses.items()):
        repo, _, target = label.lstrip("@").rpartition("//")
        package, _, name = target.partition(":")
        # A test of another repository (@repo//pkg:name) logs under external/repo/pkg/name.
        logs = os.path.join(testlogs, "external", repo) if repo else testlogs
        counts = case_counts(os.path.join(logs, package, name, "test.xml"))
        if counts is None:
            counts = (0, 0, 0)
        p, f, s = counts
        if status != "PASSED" and f == 0:
            f = 1
        passed, failed, skipped = passed + p, failed + f, skipped + s
    # Targets that never ran (failed to build) have no test summary.
    failed += len(aborted - set(statuses))
    # Bazel may leave a colour-reset sequence without a newline: start on a fresh line.
    print(f"\ntests: {passed} passed, {failed} failed, {skipped} skipped")


if __name__ == "__main__":
    main()
