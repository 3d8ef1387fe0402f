// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Example dApp receiving Hub results. `mode` lets tests make it misbehave:
///         0 = record, 1 = revert, 2 = burn all gas it is given, 3 = return a huge payload.
contract TaskCallbackReceiver {
    address public constant HUB = 0x0000000000000000000000000000000000001001;

    uint8 public mode;
    uint256 public calls;
    uint256 public lastTaskId;
    bytes32 public lastDigest;
    mapping(uint256 => bytes32) public results;

    event ResultReceived(uint256 indexed taskId, bytes32 digest);

    error NotHub(address caller);
    error Refused();

    constructor(uint8 mode_) {
        mode = mode_;
    }

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    /// @notice Called by the Hub when a task completes.
    function onTaskResult(uint256 taskId, bytes32 digest) external {
        if (msg.sender != HUB) revert NotHub(msg.sender);
        if (mode == 1) revert Refused();
        if (mode == 2) {
            uint256 x;
            while (true) x++;
        }
        if (mode == 3) {
            assembly {
                return(0, 100000)
            }
        }
        calls += 1;
        lastTaskId = taskId;
        lastDigest = digest;
        results[taskId] = digest;
        emit ResultReceived(taskId, digest);
    }
}
