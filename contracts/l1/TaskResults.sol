// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SecureMerkleTrie} from "./vendor/optimism/libraries/trie/SecureMerkleTrie.sol";
import {RLPReader} from "./vendor/optimism/libraries/rlp/RLPReader.sol";

/// @notice The part of Checkpoints (contracts/l1/Checkpoints.sol) or CheckpointsBls this contract reads.
interface ITaskCheckpoints {
    function isCheckpoint(uint64 height, bytes32 blockHash, bytes32 stateRoot, bytes32 withdrawalsRoot)
        external
        view
        returns (bool);
}

/// @title TaskResults: proves on L1 what a sidechain compute task returned.
/// @notice A checkpoint on L1 carries the sidechain's state root at its height. Under that root, a
/// Merkle-Patricia proof of the Hub account (0x…1001) gives the Hub's storage root, and two storage
/// proofs give the words of `tasks[taskId]` holding its status and its result digest. A result is
/// accepted only when the task is COMPLETED at that height: the Hub writes `result` at the first
/// reveal, before the task is final, so the result word alone would not be enough.
///
/// The slots come from solc's storage layout of contracts/sidechain/Hub.sol (`tasks` is state
/// variable slot 6; in `struct Task`, `status` is the low byte of word 0 and `result` is word 5);
/// test/unit/task-proof.test.ts fails when the Hub's layout moves, and bridge/task-proof.ts uses the
/// same numbers to ask a node for the proof.
///
/// Proof nodes are checked by the Optimism bedrock MerkleTrie library (vendored verbatim under
/// vendor/optimism, see docs/decisions.md). It reverts with strings; this contract turns every such
/// failure into a typed error through an external self-call.
contract TaskResults {
    /// @notice A checkpoint as both checkpoints contracts take it; the caller passes the roots L1
    /// accepted (CheckpointsBls keeps only their hash), checked with `isCheckpoint`.
    struct Checkpoint {
        uint64 height;
        bytes32 blockHash;
        bytes32 stateRoot;
        bytes32 withdrawalsRoot;
    }

    /// @notice `tasks` mapping: state variable slot of the Hub.
    uint256 public constant TASKS_SLOT = 6;
    /// @notice Word of `struct Task` whose low byte is `status`.
    uint256 public constant STATUS_WORD = 0;
    /// @notice Word of `struct Task` holding `result`.
    uint256 public constant RESULT_WORD = 5;
    /// @notice Hub.STATUS_COMPLETED.
    uint8 public constant STATUS_COMPLETED = 3;
    /// @dev A secure-trie path has 64 nibbles: at most 64 branch/extension nodes plus the leaf.
    uint256 public constant MAX_PROOF_NODES = 65;
    /// @dev A branch node (17 items of at most 33 bytes) encodes to at most 532 bytes; an account
    /// leaf is smaller. Anything larger is not a node of a well-formed proof.
    uint256 public constant MAX_NODE_BYTES = 600;

    ITaskCheckpoints public immutable checkpoints;
    /// @notice The sidechain Hub's address (0x…1001 on pocchain).
    address public immutable hub;

    error UnknownCheckpoint(uint64 height);
    error ProofTooLarge(uint256 nodes, uint256 largestNode);
    error BadAccountProof();
    error BadStorageProof(bytes32 slot);
    error TaskNotCompleted(uint256 taskId, uint8 status);
    error ResultMismatch(uint256 taskId, bytes32 proven, bytes32 claimed);

    constructor(ITaskCheckpoints checkpoints_, address hub_) {
        checkpoints = checkpoints_;
        hub = hub_;
    }

    /// @notice Storage slots of `tasks[taskId].status` (low byte) and `tasks[taskId].result` in the Hub.
    function taskSlots(uint256 taskId) public pure returns (bytes32 statusSlot, bytes32 resultSlot) {
        uint256 base = uint256(keccak256(abi.encode(taskId, TASKS_SLOT)));
        return (bytes32(base + STATUS_WORD), bytes32(base + RESULT_WORD));
    }

    /// @notice The result digest of `taskId`, proven against checkpoint `cp`; reverts with a typed
    /// error unless `cp` is accepted on L1, the proofs hold and the task is COMPLETED there.
    /// @param accountProof eth_getProof(hub, …, cp.height).accountProof
    /// @param statusProof  eth_getProof's storageProof for the status slot (see `taskSlots`)
    /// @param resultProof  eth_getProof's storageProof for the result slot
    function resultOf(
        uint256 taskId,
        Checkpoint calldata cp,
        bytes[] calldata accountProof,
        bytes[] calldata statusProof,
        bytes[] calldata resultProof
    ) public view returns (bytes32 result) {
        _bound(accountProof);
        _bound(statusProof);
        _bound(resultProof);
        if (!checkpoints.isCheckpoint(cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot)) {
            revert UnknownCheckpoint(cp.height);
        }

        bytes32 storageRoot;
        try this.accountStorageRoot(cp.stateRoot, hub, accountProof) returns (bytes32 r) {
            storageRoot = r;
        } catch {
            revert BadAccountProof();
        }
        (bytes32 statusSlot, bytes32 resultSlot) = taskSlots(taskId);
        uint8 status = uint8(_word(storageRoot, statusSlot, statusProof));
        if (status != STATUS_COMPLETED) revert TaskNotCompleted(taskId, status);
        result = bytes32(_word(storageRoot, resultSlot, resultProof));
    }

    /// @notice Reverts unless `result` is what `taskId` returned, proven at checkpoint `cp`.
    function verify(
        uint256 taskId,
        bytes32 result,
        Checkpoint calldata cp,
        bytes[] calldata accountProof,
        bytes[] calldata statusProof,
        bytes[] calldata resultProof
    ) external view returns (bool) {
        bytes32 proven = resultOf(taskId, cp, accountProof, statusProof, resultProof);
        if (proven != result) revert ResultMismatch(taskId, proven, result);
        return true;
    }

    // ---------------------------------------------------------------- proof steps (self-called)

    /// @notice Storage root of `account` under `stateRoot` (reverts with the library's reason).
    /// External so that `resultOf` can catch the library's string reverts and type them.
    function accountStorageRoot(bytes32 stateRoot, address account, bytes[] memory proof)
        external
        pure
        returns (bytes32)
    {
        bytes memory acc = SecureMerkleTrie.get(abi.encodePacked(account), proof, stateRoot);
        // account = rlp([nonce, balance, storageRoot, codeHash])
        RLPReader.RLPItem[] memory fields = RLPReader.readList(acc);
        require(fields.length == 4, "TaskResults: not an account");
        bytes memory root = RLPReader.readBytes(fields[2]);
        require(root.length == 32, "TaskResults: bad storage root");
        return bytes32(root);
    }

    /// @notice Value of storage slot `slot` under `storageRoot` (reverts with the library's reason;
    /// a zero slot is absent from the trie and has no inclusion proof).
    function storageWord(bytes32 storageRoot, bytes32 slot, bytes[] memory proof) external pure returns (uint256) {
        bytes memory v = RLPReader.readBytes(SecureMerkleTrie.get(abi.encodePacked(slot), proof, storageRoot));
        require(v.length <= 32, "TaskResults: word too long");
        return uint256(bytes32(v)) >> (8 * (32 - v.length));
    }

    function _word(bytes32 storageRoot, bytes32 slot, bytes[] calldata proof) private view returns (uint256 w) {
        try this.storageWord(storageRoot, slot, proof) returns (uint256 v) {
            w = v;
        } catch {
            revert BadStorageProof(slot);
        }
    }

    /// @dev Bounds the work before any hashing: node count and node size.
    function _bound(bytes[] calldata proof) private pure {
        uint256 largest = 0;
        for (uint256 i = 0; i < proof.length && i <= MAX_PROOF_NODES; i++) {
            if (proof[i].length > largest) largest = proof[i].length;
        }
        if (proof.length > MAX_PROOF_NODES || largest > MAX_NODE_BYTES) revert ProofTooLarge(proof.length, largest);
    }
}
