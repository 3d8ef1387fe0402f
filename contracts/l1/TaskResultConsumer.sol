// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskResults} from "./TaskResults.sol";

/// @title TaskResultConsumer: an example L1 contract that uses sidechain compute results.
/// @notice It records the result of a sidechain task only through a TaskResults proof, so nobody
/// (not even a node operator or the submitter) can make it record a digest the sidechain's
/// validators did not sign into a checkpoint. Anyone may submit; the first valid proof of a task
/// wins, and a task's recorded result can never change.
contract TaskResultConsumer {
    TaskResults public immutable verifier;

    /// @notice taskId → proven result digest (zero until accepted).
    mapping(uint256 taskId => bytes32 digest) public resultOf;

    event ResultAccepted(uint256 indexed taskId, bytes32 digest, uint64 checkpointHeight, address submitter);

    error AlreadyAccepted(uint256 taskId, bytes32 digest);

    constructor(TaskResults verifier_) {
        verifier = verifier_;
    }

    /// @notice Record `digest` as task `taskId`'s result; reverts with TaskResults' errors when
    /// the proof does not hold, or AlreadyAccepted when the task was recorded before.
    function accept(
        uint256 taskId,
        bytes32 digest,
        TaskResults.Checkpoint calldata checkpoint,
        bytes[] calldata accountProof,
        bytes[] calldata statusProof,
        bytes[] calldata resultProof
    ) external {
        bytes32 known = resultOf[taskId];
        if (known != bytes32(0)) revert AlreadyAccepted(taskId, known);
        verifier.verify(taskId, digest, checkpoint, accountProof, statusProof, resultProof);
        resultOf[taskId] = digest;
        emit ResultAccepted(taskId, digest, checkpoint.height, msg.sender);
    }
}
