// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Bls: BLS12-381 signature verification with the EIP-2537 precompiles (in Ethereum since Pectra).
/// @notice The scheme is Ethereum's consensus-layer one ("minimal public key size"): public keys in
/// G1, signatures in G2, messages hashed to G2 with RFC 9380 hash_to_curve
/// (BLS12381G2_XMD:SHA-256_SSWU_RO_) under the proof-of-possession ciphersuite tag, so signatures
/// made by blst (Lodestar's chainsafe binding, Lighthouse, Prysm) verify here unchanged.
///
/// Points use the EIP-2537 encoding: each base-field element as 64 bytes (16 zero bytes, then the
/// 48-byte big-endian value); G1 = x ‖ y (128 bytes); G2 = x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1 (256 bytes).
///
/// Cost (EIP-2537 prices): the pairing check of two pairs is 102,900 gas and hashing to G2 two
/// MAP_FP2_TO_G2 calls (47,600); together they are the floor of one verification (~152k).
library Bls {
    address private constant G1ADD = address(0x0b);
    address private constant G2ADD = address(0x0d);
    address private constant PAIRING = address(0x0f);
    address private constant MAP_FP2_TO_G2 = address(0x11);
    address private constant MODEXP = address(0x05);

    /// @dev The signature ciphersuite tag of Ethereum's consensus layer (and blst's default).
    bytes internal constant DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    error PrecompileFailed(address precompile);

    /// @notice a + b in G1 (128-byte EIP-2537 points).
    function g1Add(bytes memory a, bytes memory b) internal view returns (bytes memory out) {
        out = new bytes(128);
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, add(a, 32), 128)
            mcopy(add(buf, 128), add(b, 32), 128)
            ok := staticcall(gas(), 0x0b, buf, 256, add(out, 32), 128)
        }
        if (!ok) revert PrecompileFailed(G1ADD);
    }

    /// @notice hash_to_curve(message) in G2 (RFC 9380, expand_message_xmd with SHA-256, DST above).
    function hashToG2(bytes32 message) internal view returns (bytes memory h) {
        bytes32[8] memory u = _expand(message);
        bytes memory q0 = _mapToG2(_reduce(u[0], u[1]), _reduce(u[2], u[3]));
        bytes memory q1 = _mapToG2(_reduce(u[4], u[5]), _reduce(u[6], u[7]));
        h = new bytes(256);
        bool ok;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, add(q0, 32), 256)
            mcopy(add(buf, 256), add(q1, 32), 256)
            ok := staticcall(gas(), 0x0d, buf, 512, add(h, 32), 256)
        }
        if (!ok) revert PrecompileFailed(G2ADD);
    }

    /// @notice True when `signature` (G2) is a valid signature of `message` by `publicKey` (G1):
    /// e(publicKey, H(message)) == e(g1, signature), checked as one product with −g1.
    /// The pairing precompile checks that both points are on their curves and in the subgroup;
    /// a malformed point makes it fail, which is reported as `false`.
    function verify(bytes memory publicKey, bytes32 message, bytes memory signature) internal view returns (bool valid) {
        bytes memory h = hashToG2(message);
        bytes memory input = abi.encodePacked(publicKey, h, NEG_G1_X, NEG_G1_Y, signature);
        bool ok;
        uint256 result;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x0f, add(input, 32), mload(input), 0x00, 32)
            result := mload(0x00)
        }
        valid = ok && result == 1;
    }

    // −g1 = (g1.x, p − g1.y), EIP-2537 encoded
    bytes private constant NEG_G1_X =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb";
    bytes private constant NEG_G1_Y =
        hex"00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f267816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca";

    /// @dev expand_message_xmd(message, DST, 256): eight 32-byte blocks b_1 … b_8.
    function _expand(bytes32 message) private view returns (bytes32[8] memory b) {
        bytes memory dstPrime = abi.encodePacked(DST, uint8(DST.length));
        // msg' = Z_pad(64) ‖ msg ‖ I2OSP(256, 2) ‖ I2OSP(0, 1) ‖ DST'
        bytes32 b0 = sha256(abi.encodePacked(bytes32(0), bytes32(0), message, uint16(256), uint8(0), dstPrime));
        bytes32 bi = sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        b[0] = bi;
        for (uint8 i = 2; i <= 8; i++) {
            bi = sha256(abi.encodePacked(b0 ^ bi, i, dstPrime));
            b[i - 1] = bi;
        }
    }

    /// @dev (hi ‖ lo) mod p as a 64-byte EIP-2537 field element, with the MODEXP precompile (x^1 mod p).
    function _reduce(bytes32 hi, bytes32 lo) private view returns (bytes memory e) {
        bytes memory input = abi.encodePacked(
            uint256(64), uint256(1), uint256(48), hi, lo, uint8(1),
            hex"1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab"
        );
        e = new bytes(64);
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x05, add(input, 32), mload(input), add(e, 48), 48)
        }
        if (!ok) revert PrecompileFailed(MODEXP);
    }

    /// @dev MAP_FP2_TO_G2(c0 + c1·u): a G2 point, cofactor cleared by the precompile.
    function _mapToG2(bytes memory c0, bytes memory c1) private view returns (bytes memory q) {
        bytes memory input = abi.encodePacked(c0, c1);
        q = new bytes(256);
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x11, add(input, 32), 128, add(q, 32), 256)
        }
        if (!ok) revert PrecompileFailed(MAP_FP2_TO_G2);
    }
}
