// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Bridge (sidechain side): burn native coin for a withdrawal to L1.
/// @notice Deployed in genesis at 0x0000000000000000000000000000000000001002 as runtime code only:
/// no constructor runs, so every state variable starts at zero and nothing relies on one.
///
/// Each withdrawal appends leaf = keccak256(abi.encode(index, l1Recipient, amount)) to an
/// incremental Merkle tree of depth 32 (the eth2 deposit contract's algorithm, keccak instead of
/// sha256, no length mix-in). Empty leaves are bytes32(0); a level-h empty subtree is
/// zero[h] = keccak(zero[h-1], zero[h-1]). The root at a checkpoint height is the checkpoint's
/// withdrawalsRoot; L1's Vault releases a leaf against it once, keyed by its index.
/// The coin paid in stays locked here forever: out of circulation, i.e. burned.
///
/// Storage layout (fixed, the node may read it directly): slots 0..31 = branch, slot 32 = count.
contract Bridge {
    uint256 public constant TREE_DEPTH = 32;
    /// @dev As in the eth2 deposit contract: one less than the leaves of a full tree, so the
    /// insertion loop always finds a free slot.
    uint256 public constant MAX_WITHDRAWALS = 2 ** 32 - 1;

    bytes32[32] private _branch;
    uint256 private _count;

    event WithdrawalRequested(
        uint256 indexed index, address indexed from, address indexed l1Recipient, uint256 amount, bytes32 leaf
    );

    error ZeroAmount();
    error ZeroRecipient();
    error TreeFull();

    /// @notice Burn msg.value for a withdrawal to `l1Recipient` on L1; returns the leaf index.
    function withdraw(address l1Recipient) external payable returns (uint256 index) {
        if (msg.value == 0) revert ZeroAmount();
        if (l1Recipient == address(0)) revert ZeroRecipient();
        index = _count;
        if (index >= MAX_WITHDRAWALS) revert TreeFull();
        bytes32 leaf = keccak256(abi.encode(index, l1Recipient, msg.value));

        uint256 size = index + 1;
        _count = size;
        bytes32 node = leaf;
        for (uint256 h = 0; h < TREE_DEPTH; h++) {
            if (size & 1 == 1) {
                _branch[h] = node;
                break;
            }
            node = _hashPair(_branch[h], node);
            size >>= 1;
        }
        emit WithdrawalRequested(index, msg.sender, l1Recipient, msg.value, leaf);
    }

    /// @notice Root of the withdrawal tree over all leaves so far (zero-padded to 2^32 leaves).
    function root() external view returns (bytes32 node) {
        bytes32 zero = bytes32(0);
        uint256 size = _count;
        for (uint256 h = 0; h < TREE_DEPTH; h++) {
            if (size & 1 == 1) node = _hashPair(_branch[h], node);
            else node = _hashPair(node, zero);
            zero = _hashPair(zero, zero);
            size >>= 1;
        }
    }

    /// @notice Number of withdrawals so far; the next withdrawal gets this index.
    function count() external view returns (uint256) {
        return _count;
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }
}
