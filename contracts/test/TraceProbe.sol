// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Callee for the trace tests: a state write (CALL) and a pure check that reverts (STATICCALL).
contract TraceInner {
    uint256 public x;

    function set(uint256 v) external returns (uint256) {
        x = v;
        return v * 2;
    }

    function check(uint256 v) external pure returns (uint256) {
        require(v == 0, "inner says no");
        return v;
    }
}

/// @notice Caller for the trace tests: nested calls, a caught inner revert, and an outer revert.
contract TraceOuter {
    TraceInner public immutable inner;
    uint256 public caught;

    constructor(TraceInner i) {
        inner = i;
    }

    function run(uint256 v) external returns (uint256 r) {
        r = inner.set(v);
        try inner.check(v) returns (uint256) {} catch {
            caught += 1;
        }
    }

    function fail(uint256 v) external {
        inner.set(v);
        revert("outer fails");
    }
}
