// The scanners of scan.go in WebAssembly: Go compiled to wasm sends every
// jump through its function's dispatch table, these loops are plain Wasm
// loops. R0 is the base of b, R1 its length, R2 the index they move.

#include "textflag.h"

// Words of eight equal bytes.
#define ONES $0x0101010101010101
#define HIGHS $-0x7f7f7f7f7f7f7f80
#define LOWERS $0x2020202020202020
#define QUOTES $0x2222222222222222
#define BACKSLASHES $0x5c5c5c5c5c5c5c5c
#define OPENS $0x7b7b7b7b7b7b7b7b
#define CLOSES $0x7d7d7d7d7d7d7d7d

// LOADB(r) loads b[R2] into r.
#define LOADB(r) Get R0; Get R2; I64Add; I32WrapI64; I64Load8U $0; Set r

// INC(r, n) adds n to r.
#define INC(r, n) Get r; I64Const n; I64Add; Set r

// ATEND(fail) runs fail (which returns) when R2 is at or past the end.
#define ATEND(fail) Get R2; Get R1; I64GeU; If; fail; End

// STREND(fail) moves R2 from the first byte of a string's text to its
// closing quote and sets R7 to 1 if the string has escapes; fail runs when
// the string has no end. It looks for quotes and backslashes eight bytes at
// a time, then byte by byte in the last seven (uses R4, R5, R6).
#define STREND(fail) \
	Block; \
	Loop; \
		Block; \
		Loop; \
			Get R2; I64Const $8; I64Add; Get R1; I64GtU; BrIf $1; \
			Get R0; Get R2; I64Add; I32WrapI64; I64Load $0; Set R4; \
			Get R4; I64Const QUOTES; I64Xor; Set R5; \
			Get R4; I64Const BACKSLASHES; I64Xor; Set R6; \
			Get R5; I64Const ONES; I64Sub; Get R5; I64Const $-1; I64Xor; I64And; \
			Get R6; I64Const ONES; I64Sub; Get R6; I64Const $-1; I64Xor; I64And; \
			I64Or; I64Const HIGHS; I64And; Tee R5; \
			I64Eqz; \
			If; INC(R2, $8); Br $1; End; \
			Get R2; Get R5; I64Ctz; I64Const $3; I64ShrU; I64Add; Set R2; \
			LOADB(R6); \
			Get R6; I64Const $34; I64Eq; BrIf $3; \
			I64Const $1; Set R7; \
			INC(R2, $2); \
			Br $0; \
		End; \
		End; \
		ATEND(fail); \
		LOADB(R6); \
		Get R6; I64Const $34; I64Eq; BrIf $1; \
		Get R6; I64Const $92; I64Eq; \
		If; I64Const $1; Set R7; INC(R2, $2); Br $1; End; \
		INC(R2, $1); \
		Br $0; \
	End; \
	End

// SKIPWS moves R2 past white space (uses R6).
#define SKIPWS \
	Block; \
	Loop; \
		Get R2; Get R1; I64GeU; BrIf $1; \
		LOADB(R6); \
		Get R6; I64Const $32; I64Eq; \
		Get R6; I64Const $9; I64Sub; I64Const $2; I64LtU; I32Or; \
		Get R6; I64Const $13; I64Eq; I32Or; \
		I32Eqz; BrIf $1; \
		INC(R2, $1); \
		Br $0; \
	End; \
	End

// CONTAINER(fail) moves R2 from the bracket that opens an object or array
// past the bracket that closes it, crossing strings with STREND. It looks
// for quotes and brackets eight bytes at a time, then byte by byte in the
// last seven; '[' | 0x20 is '{' and ']' | 0x20 is '}' (uses R3 to R8).
#define CONTAINER(fail) \
	I64Const $0; Set R3; \
	Block; \
	Loop; \
		Block; \
		Loop; \
			Get R2; I64Const $8; I64Add; Get R1; I64GtU; BrIf $1; \
			Get R0; Get R2; I64Add; I32WrapI64; I64Load $0; Set R4; \
			Get R4; I64Const LOWERS; I64Or; Set R8; \
			Get R4; I64Const QUOTES; I64Xor; Set R4; \
			Get R8; I64Const OPENS; I64Xor; Set R5; \
			Get R8; I64Const CLOSES; I64Xor; Set R8; \
			Get R4; I64Const ONES; I64Sub; Get R4; I64Const $-1; I64Xor; I64And; \
			Get R5; I64Const ONES; I64Sub; Get R5; I64Const $-1; I64Xor; I64And; I64Or; \
			Get R8; I64Const ONES; I64Sub; Get R8; I64Const $-1; I64Xor; I64And; I64Or; \
			I64Const HIGHS; I64And; Tee R5; \
			I64Eqz; \
			If; INC(R2, $8); Br $1; End; \
			Get R2; Get R5; I64Ctz; I64Const $3; I64ShrU; I64Add; Set R2; \
			LOADB(R6); \
			INC(R2, $1); \
			Get R6; I64Const $34; I64Eq; \
			If; STREND(fail); INC(R2, $1); Br $1; End; \
			Get R6; I64Const $32; I64Or; I64Const $123; I64Eq; \
			If; INC(R3, $1); Br $1; End; \
			Get R3; I64Const $1; I64Sub; Tee R3; \
			I64Eqz; BrIf $3; \
			Br $0; \
		End; \
		End; \
		ATEND(fail); \
		LOADB(R6); \
		INC(R2, $1); \
		Get R6; I64Const $34; I64Eq; \
		If; STREND(fail); INC(R2, $1); Br $1; End; \
		Get R6; I64Const $32; I64Or; Tee R8; I64Const $123; I64Eq; \
		If; INC(R3, $1); Br $1; End; \
		Get R8; I64Const $125; I64Eq; \
		If; Get R3; I64Const $1; I64Sub; Tee R3; I64Eqz; BrIf $2; Br $1; End; \
		Br $0; \
	End; \
	End

// VALEND(fail) moves R2 from the first byte of a value past its end; fail
// runs when no value starts there or it has no end (uses R3 to R8).
#define VALEND(fail) \
	ATEND(fail); \
	LOADB(R6); \
	Block; \
		Get R6; I64Const $34; I64Eq; \
		If; INC(R2, $1); STREND(fail); INC(R2, $1); Br $1; End; \
		Get R6; I64Const $32; I64Or; I64Const $123; I64Eq; \
		If; CONTAINER(fail); Br $1; End; \
		Get R6; I64Const $45; I64Eq; \
		Get R6; I64Const $48; I64Sub; I64Const $10; I64LtU; I32Or; \
		Get R6; I64Const $116; I64Eq; I32Or; \
		Get R6; I64Const $102; I64Eq; I32Or; \
		Get R6; I64Const $110; I64Eq; I32Or; \
		I32Eqz; If; fail; End; \
		INC(R2, $1); \
		Block; \
		Loop; \
			Get R2; Get R1; I64GeU; BrIf $1; \
			LOADB(R6); \
			Get R6; I64Const $32; I64LeU; \
			Get R6; I64Const $44; I64Eq; I32Or; \
			Get R6; I64Const $58; I64Eq; I32Or; \
			Get R6; I64Const $34; I64Eq; I32Or; \
			Get R6; I64Const $32; I64Or; I64Const $123; I64Eq; I32Or; \
			Get R6; I64Const $32; I64Or; I64Const $125; I64Eq; I32Or; \
			BrIf $1; \
			INC(R2, $1); \
			Br $0; \
		End; \
		End; \
	End

// How the functions below fail: they store -1 (or -2, "cannot tell") as
// their result and return.
#define FAIL_SE Get SP; I64Const $-1; I64Store end+32(FP); Get SP; I64Const $0; I64Store8 escaped+40(FP); RET
#define FAIL_VE Get SP; I64Const $-1; I64Store ret+32(FP); RET
#define NOT_SIMPLE Get SP; I64Const $0; I64Store mant+32(FP); Get SP; I64Const $-1; I64Store frac+40(FP); Get SP; I64Const $0; I64Store8 neg+48(FP); RET
#define FAIL_KV Get SP; I64Const $-1; I64Store ret+48(FP); RET
#define DECODE_KV Get SP; I64Const $-2; I64Store ret+48(FP); RET

// func stringEnd(b []byte, i int) (end int, escaped bool)
TEXT ·stringEnd(SB), NOSPLIT, $0-41
	I64Load b_base+0(FP); Set R0
	I64Load b_len+8(FP); Set R1
	I64Load i+24(FP); Set R2
	ATEND(FAIL_SE)
	I64Const $0; Set R7
	STREND(FAIL_SE)
	Get SP; Get R2; I64Store end+32(FP)
	Get SP; Get R7; I64Store8 escaped+40(FP)
	RET

// func valueEnd(b []byte, i int) int
TEXT ·valueEnd(SB), NOSPLIT, $0-40
	I64Load b_base+0(FP); Set R0
	I64Load b_len+8(FP); Set R1
	I64Load i+24(FP); Set R2
	VALEND(FAIL_VE)
	Get SP; Get R2; I64Store ret+32(FP)
	RET

// func nextElement(b []byte, i int) int
TEXT ·nextElement(SB), NOSPLIT, $0-40
	I64Load b_base+0(FP); Set R0
	I64Load b_len+8(FP); Set R1
	I64Load i+24(FP); Set R2
	VALEND(FAIL_VE)
	SKIPWS
	ATEND(FAIL_VE)
	LOADB(R6)
	Get R6; I64Const $44; I64Ne; If; FAIL_VE; End
	INC(R2, $1)
	SKIPWS
	ATEND(FAIL_VE)
	Get SP; Get R2; I64Store ret+32(FP)
	RET

// func simpleNumber(b []byte, i int) (mant uint64, frac int, neg bool)
//
// R3 is mant, R4 the number of digits, R5 frac, R7 whether a decimal point
// was read, R8 neg.
TEXT ·simpleNumber(SB), NOSPLIT, $0-49
	I64Load b_base+0(FP); Set R0
	I64Load b_len+8(FP); Set R1
	I64Load i+24(FP); Set R2
	I64Const $0; Set R3
	I64Const $0; Set R4
	I64Const $0; Set R5
	I64Const $0; Set R7
	I64Const $0; Set R8
	ATEND(NOT_SIMPLE)
	LOADB(R6)
	Get R6; I64Const $45; I64Eq
	If; I64Const $1; Set R8; INC(R2, $1); End
	Block
	Loop
		Get R2; Get R1; I64GeU; BrIf $1
		LOADB(R6)
		Get R6; I64Const $48; I64Sub; Tee R6; I64Const $10; I64LtU
		If
			Get R3; I64Const $10; I64Mul; Get R6; I64Add; Set R3
			INC(R4, $1)
			Get R5; Get R7; I64Add; Set R5
			INC(R2, $1)
			Br $1
		End
		// R6 is the byte minus '0': '.' - '0' is -2.
		Get R6; I64Const $-2; I64Eq; Get R7; I64Eqz; I32And; I32Eqz; BrIf $1
		I64Const $1; Set R7
		INC(R2, $1)
		Br $0
	End
	End
	Get R4; I64Eqz; If; NOT_SIMPLE; End
	Get R4; I64Const $15; I64GtU; If; NOT_SIMPLE; End
	Get R2; Get R1; I64LtU
	If
		LOADB(R6)
		Get R6; I64Const $32; I64Or; I64Const $101; I64Eq
		If; NOT_SIMPLE; End
	End
	Get SP; Get R3; I64Store mant+32(FP)
	Get SP; Get R5; I64Store frac+40(FP)
	Get SP; Get R8; I64Store8 neg+48(FP)
	RET

// func keyValue(b []byte, i int, name string) int
//
// R9 is the base of name, R10 its length, R11 where a key starts, R12 an
// index in name, R13 whether the key is name.
TEXT ·keyValue(SB), NOSPLIT, $0-56
	I64Load b_base+0(FP); Set R0
	I64Load b_len+8(FP); Set R1
	I64Load i+24(FP); Set R2
	I64Load name_base+32(FP); Set R9
	I64Load name_len+40(FP); Set R10

	// Names beyond ASCII are compared decoded, by Go.
	I64Const $0; Set R12
	Block
	Loop
		Get R12; Get R10; I64GeU; BrIf $1
		Get R9; Get R12; I64Add; I32WrapI64; I64Load8U $0; I64Const $128; I64GeU
		If; DECODE_KV; End
		INC(R12, $1)
		Br $0
	End
	End

	ATEND(FAIL_KV)
	LOADB(R6)
	Get R6; I64Const $123; I64Ne; If; FAIL_KV; End
	INC(R2, $1)
	Loop
		SKIPWS
		ATEND(FAIL_KV)
		LOADB(R6)
		Get R6; I64Const $34; I64Ne; If; FAIL_KV; End
		INC(R2, $1)
		Get R2; Set R11
		I64Const $0; Set R7
		STREND(FAIL_KV)
		Get R7; I32WrapI64; If; DECODE_KV; End

		I64Const $0; Set R13
		Get R2; Get R11; I64Sub; Get R10; I64Eq
		If
			I64Const $1; Set R13
			I64Const $0; Set R12
			Block
			Loop
				Get R12; Get R10; I64GeU; BrIf $1
				Get R0; Get R11; I64Add; Get R12; I64Add; I32WrapI64; I64Load8U $0
				Get R9; Get R12; I64Add; I32WrapI64; I64Load8U $0
				I64Ne
				If; I64Const $0; Set R13; Br $2; End
				INC(R12, $1)
				Br $0
			End
			End
		End

		INC(R2, $1)
		SKIPWS
		ATEND(FAIL_KV)
		LOADB(R6)
		Get R6; I64Const $58; I64Ne; If; FAIL_KV; End
		INC(R2, $1)
		SKIPWS
		ATEND(FAIL_KV)
		Get R13; I32WrapI64
		If; Get SP; Get R2; I64Store ret+48(FP); RET; End

		VALEND(FAIL_KV)
		SKIPWS
		ATEND(FAIL_KV)
		LOADB(R6)
		Get R6; I64Const $44; I64Ne; If; FAIL_KV; End
		INC(R2, $1)
		Br $0
	End
	FAIL_KV
