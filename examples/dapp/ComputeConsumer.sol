// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The part of pocchain's Hub system contract a dApp needs.
interface IHub {
    function requestTask(
        bytes32 app,
        bytes32 dataset,
        bytes calldata input,
        uint256 trust,
        uint256 minReplicas,
        uint256 maxReplicas,
        uint256 maxPrice,
        address callback
    ) external payable returns (uint256 taskId);
}

/// @notice A dApp that asks the network to run a WebAssembly app on an input, and keeps the
///         result the executors agreed on. The Hub calls `onTaskResult` when the task completes
///         (with at most Hub.CALLBACK_GAS = 200k gas); the digest is keccak256 of the app's output.
contract ComputeConsumer {
    IHub public constant HUB = IHub(0x0000000000000000000000000000000000001001);

    mapping(uint256 => bytes32) public results;
    mapping(uint256 => address) public requesters;
    uint256 public completed;

    event Requested(uint256 indexed taskId, address indexed requester, bytes input);
    event ResultStored(uint256 indexed taskId, bytes32 digest);

    error OnlyHub(address caller);

    /// @notice Request `app` on `input`, replicated on `replicas` executors that must agree with
    ///         credibility 1 - 1/trust. msg.value pays the app fee and the executors.
    function compute(bytes32 app, bytes calldata input, uint256 trust, uint256 replicas) external payable returns (uint256 taskId) {
        taskId = HUB.requestTask{value: msg.value}(app, bytes32(0), input, trust, replicas, replicas, msg.value, address(this));
        requesters[taskId] = msg.sender;
        emit Requested(taskId, msg.sender, input);
    }

    /// @notice Called by the Hub with the agreed result.
    function onTaskResult(uint256 taskId, bytes32 digest) external {
        if (msg.sender != address(HUB)) revert OnlyHub(msg.sender);
        results[taskId] = digest;
        completed += 1;
        emit ResultStored(taskId, digest);
    }

    /// @notice Refunds of failed tasks come back here.
    receive() external payable {}
}
