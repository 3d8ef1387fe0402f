// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Bls} from "../l1/Bls.sol";

/// @notice Exposes the Bls library for tests (hash-to-curve vectors against blst, verify, gas).
contract BlsHarness {
    function hashToG2(bytes32 message) external view returns (bytes memory) {
        return Bls.hashToG2(message);
    }

    function g1Add(bytes calldata a, bytes calldata b) external view returns (bytes memory) {
        return Bls.g1Add(a, b);
    }

    function verify(bytes calldata publicKey, bytes32 message, bytes calldata signature) external view returns (bool) {
        return Bls.verify(publicKey, message, signature);
    }

    /// @dev a transaction, so its gas can be measured with a receipt
    function verifyTx(bytes calldata publicKey, bytes32 message, bytes calldata signature) external {
        require(Bls.verify(publicKey, message, signature), "invalid");
    }
}
