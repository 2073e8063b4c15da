"""The MCP4728 emulator, the fake busio.I2C and the analog stage, driven by raw bytes and by the
real adafruit_mcp4728 driver. All time is virtual (host_tools.sim.world)."""

import contextlib
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "host_tools" / "sim" / "fakes"

from host_tools.sim import analog, costs, world
from host_tools.sim import i2c as fake_i2c
from host_tools.sim.mcp4728 import EEPROM_WRITE_NS, MCP4728, Register
from host_tools.sim.world import World

FAKE_MODULES = ("microcontroller", "board", "busio")
MS = 1_000_000
BIT_400K = 2_500  # ns per bit at 400 kHz


@contextlib.contextmanager
def simulation():
    saved = {name: sys.modules.pop(name) for name in FAKE_MODULES if name in sys.modules}
    sys.path.insert(0, str(FAKES))
    busio = types.ModuleType("busio")
    busio.I2C = fake_i2c.I2C
    sys.modules["busio"] = busio
    w = world.install(World())
    try:
        import board

        yield SimpleNamespace(world=w, board=board)
    finally:
        world.uninstall()
        sys.path.remove(str(FAKES))
        for name in FAKE_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


@pytest.fixture
def sim():
    with simulation() as s:
        yield s


def dac_bus(sim, frequency=400_000):
    # The DAC pins of hardware/pinmap.json: SDA GP8, SCL GP9 (I2C0).
    return fake_i2c.I2C(sim.board.GP9, sim.board.GP8, frequency=frequency)


def write(i2c, address, data):
    assert i2c.try_lock()
    try:
        i2c.writeto(address, bytes(data))
    finally:
        i2c.unlock()


def read_back(i2c, address=0x60, n=24):
    buf = bytearray(n)
    assert i2c.try_lock()
    try:
        i2c.readfrom_into(address, buf)
    finally:
        i2c.unlock()
    return bytes(buf)


def timed(sim, fn, *args, **kwargs):
    t0 = sim.world.now_ns
    fn(*args, **kwargs)
    return sim.world.now_ns - t0


# -- (a) the real driver against the emulator ------------------------------------------------


def test_driver_sets_output_volts_and_jack_volts(sim):
    import adafruit_mcp4728

    seen = []
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3, on_output=lambda ch, v: seen.append((ch, v))))
    assert seen == [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)]  # power-on, factory EEPROM

    dac = adafruit_mcp4728.MCP4728(dac_bus(sim))
    assert dac.channel_a.raw_value == 0
    assert dac.channel_a.vref == adafruit_mcp4728.Vref.VDD

    dac.channel_a.vref = adafruit_mcp4728.Vref.INTERNAL  # 0 V before and after: not reported
    assert chip.output[0] == Register(0, 1, 0, 0)
    dac.channel_a.raw_value = 2000
    assert chip.volts(0) == 1.0
    assert analog.jack_volts("pitch", chip.volts(0)) == 4.0
    dac.channel_a.gain = 2
    assert chip.volts(0) == 2.0
    assert analog.jack_volts("pitch", chip.volts(0)) == 8.0
    dac.channel_a.normalized_value = 0.5  # int(0.5 * 4095) = 2047
    assert chip.input[0] == Register(2047, 1, 0, 1)
    assert chip.volts(0) == pytest.approx(2.047, abs=1e-12)
    dac.channel_b.raw_value = 4095  # VDD reference, gain ignored
    assert chip.volts(1) == pytest.approx(3.3 * 4095 / 4096, abs=1e-12)

    assert seen[4:] == [
        (0, 1.0),
        (0, 2.0),
        (0, pytest.approx(2.047, abs=1e-12)),
        (1, pytest.approx(3.3 * 4095 / 4096, abs=1e-12)),
    ]


def test_driver_write_costs_one_multi_write_of_bus_time(sim):
    import adafruit_mcp4728

    chip = fake_i2c.attach(0x60, MCP4728())
    dac = adafruit_mcp4728.MCP4728(dac_bus(sim))
    writes = chip.writes
    spent = timed(sim, setattr, dac.channel_c, "raw_value", 1000)
    assert chip.writes == writes + 1
    # address + 3 bytes, 9 bits each, plus start and stop, at 400 kHz: 95 us.
    assert spent == costs.I2C_WRITETO_CPU + (9 * 4 + 2) * BIT_400K


def test_driver_reset_is_not_a_general_call(sim):
    """adafruit_mcp4728's reset()/wakeup()/soft_update() send 00 xx to the chip's own address,
    which the chip takes as a Fast Write of channel A (code xx), not as a general call."""
    import adafruit_mcp4728

    chip = fake_i2c.attach(0x60, MCP4728(eeprom=[(100, 0, 0, 0)] * 4))
    dac = adafruit_mcp4728.MCP4728(dac_bus(sim))
    dac.channel_b.raw_value = 3000
    dac.reset()
    assert chip.general_calls == 0
    assert chip.input[0].code == 0x06  # channel A written by "fast write" 00 06
    assert chip.input[1].code == 3000  # not reloaded from EEPROM (100)


def test_analog_stages_and_gates():
    assert analog.jack_volts("pitch", 2.048) == pytest.approx(8.192)
    assert analog.jack_volts("mod", 2.048) == pytest.approx(5.12)
    assert analog.jack_volts("pitch", 3.3) == 10.5  # clipped at the rail
    assert analog.stage("mod").gain == 2.5
    assert analog.gate_volts(True) == 5.0
    assert analog.gate_volts(False) == 0.0
    assert analog.dac()["pitch_address"] == 0x60
    with pytest.raises(KeyError):
        analog.stage("gate")


# -- (b) each datasheet command by raw bytes -------------------------------------------------


def test_fast_write_four_channels_datasheet_example(sim):
    # DS22187E Figure 7-5: VREF = VDD, codes 0FFF, 07FF, 03FF, 01FF.
    chip = fake_i2c.attach(0x60, MCP4728(vdd=5.0))
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x0F, 0xFF, 0x07, 0xFF, 0x03, 0xFF, 0x01, 0xFF])
    assert chip.outputs() == [5 * 4095 / 4096, 5 * 2047 / 4096, 5 * 1023 / 4096, 5 * 511 / 4096]
    assert chip.outputs() == [4.998779296875, 2.498779296875, 1.248779296875, 0.623779296875]


def test_fast_write_keeps_vref_and_gain_and_sets_power_down(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x8F])  # Write Vref: internal for A..D
    write(i2c, 0x60, [0xC8])  # Write gain: x2 for A only
    write(i2c, 0x60, [0x03, 0xE8, 0x13, 0xE8, 0x23, 0xE8, 0x33, 0xE8])  # code 1000, PD 0..3
    assert [r.as_tuple() for r in chip.output] == [
        (1000, 1, 0, 1),
        (1000, 1, 1, 0),
        (1000, 1, 2, 0),
        (1000, 1, 3, 0),
    ]
    assert chip.outputs() == [1.0, 0.0, 0.0, 0.0]


def test_fast_write_waits_for_ldac_when_it_is_high(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=5.0))
    i2c = dac_bus(sim)
    chip.set_ldac(1)
    write(i2c, 0x60, [0x08, 0x00, 0x08, 0x00])  # A and B to mid-scale
    assert chip.outputs() == [0.0, 0.0, 0.0, 0.0]
    assert chip.input[0].code == 0x800
    chip.set_ldac(0)  # falling edge latches every channel
    assert chip.outputs() == [2.5, 2.5, 0.0, 0.0]


def test_multi_write_udac_held_until_software_update(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))
    i2c = dac_bus(sim)
    chip.set_ldac(1)
    # Multi-Write A: UDAC=1, VREF internal, gain x1, code 2000.
    write(i2c, 0x60, [0x41, 0x87, 0xD0])
    assert chip.volts(0) == 0.0
    assert read_back(i2c)[1:3] == bytes([0x87, 0xD0])  # the input register has it
    # LDAC high, UDAC=0 on B: only B is updated; A stays pending (Table 4-5).
    write(i2c, 0x60, [0x42, 0x87, 0xD0])
    assert chip.outputs() == [0.0, 1.0, 0.0, 0.0]
    write(i2c, 0x00, [0x08])  # general call software update
    assert chip.outputs() == [1.0, 1.0, 0.0, 0.0]


def test_multi_write_repeated_and_latched_by_ldac(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))
    i2c = dac_bus(sim)
    chip.set_ldac(1)
    # Two channels in one transaction, both UDAC=1 (C: gain x2 code 1500; D: code 500).
    write(i2c, 0x60, [0x45, 0x95, 0xDC, 0x47, 0x81, 0xF4])
    assert chip.outputs() == [0.0, 0.0, 0.0, 0.0]
    chip.set_ldac(0)
    assert chip.outputs() == [0.0, 0.0, 1.5, 0.25]


def test_multi_write_with_ldac_low_updates_at_once_even_with_udac(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))  # LDAC tied low by default
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x41, 0x87, 0xD0])
    assert chip.volts(0) == 1.0


def test_sequential_write_eeprom_then_general_call_reset_restores(sim):
    # DS22187E Figure 7-4 at VDD = 5 V: A VDD/2, B VDD-1LSB, C 2.048 V (x2), D 4.095 V (x2).
    chip = fake_i2c.attach(0x60, MCP4728(vdd=5.0))
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x50, 0x08, 0x00, 0x0F, 0xFF, 0x98, 0x00, 0x9F, 0xFF])
    expected = [2.5, 5 * 4095 / 4096, 2.048, 4.095]
    assert chip.outputs() == pytest.approx(expected, abs=1e-12)
    assert [r.as_tuple() for r in chip.eeprom] == [
        (2048, 0, 0, 0),
        (4095, 0, 0, 0),
        (2048, 1, 0, 1),
        (4095, 1, 0, 1),
    ]
    assert read_back(i2c)[0] & 0x80 == 0  # RDY/BSY low: EEPROM write under way
    assert not chip.ready
    # A second EEPROM write during the busy time is ignored.
    write(i2c, 0x60, [0x50, 0x00, 0x01])
    assert chip.ignored_while_busy == 1
    assert chip.eeprom[0].code == 2048
    sim.world.charge(EEPROM_WRITE_NS)
    assert read_back(i2c)[0] & 0x80 == 0x80
    # Volatile overwrite of all four, then the general call reset reloads the EEPROM.
    write(i2c, 0x60, [0x40, 0, 0, 0x42, 0, 0, 0x44, 0, 0, 0x46, 0, 0])
    assert chip.outputs() == [0.0, 0.0, 0.0, 0.0]
    write(i2c, 0x00, [0x06])
    assert chip.outputs() == pytest.approx(expected, abs=1e-12)


def test_sequential_write_from_channel_c(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=5.0, eeprom=[(7, 0, 0, 0)] * 4))
    i2c = dac_bus(sim)
    # Start at C: C and D written; the extra pair after D is ignored.
    write(i2c, 0x60, [0x54, 0x04, 0x00, 0x02, 0x00, 0x0F, 0xFF])
    assert [r.code for r in chip.eeprom] == [7, 7, 0x400, 0x200]
    assert [r.code for r in chip.input] == [7, 7, 0x400, 0x200]
    assert chip.outputs() == [5 * 7 / 4096, 5 * 7 / 4096, 1.25, 0.625]


def test_single_write_register_and_eeprom(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x5A, 0x87, 0xD0])  # Single Write B, UDAC=0: internal ref, code 2000
    assert chip.outputs() == [0.0, 1.0, 0.0, 0.0]
    assert chip.eeprom[1] == Register(2000, 1, 0, 0)
    assert chip.eeprom[0] == chip.eeprom[2] == chip.eeprom[3] == Register(0, 0, 0, 0)
    data = read_back(i2c)
    assert data[9:12] == bytes([0x50, 0x87, 0xD0])  # channel B EEPROM entry, RDY/BSY busy
    sim.world.charge(EEPROM_WRITE_NS)
    write(i2c, 0x60, [0x42, 0x00, 0x00])  # volatile B back to 0
    write(i2c, 0x00, [0x06])
    assert chip.volts(1) == 1.0


def test_read_back_byte_layout(sim):
    chip = fake_i2c.attach(0x61, MCP4728(vdd=3.3, address=0x61, eeprom=[(0x123, 1, 2, 1)] * 4))
    i2c = dac_bus(sim)
    write(i2c, 0x61, [0x40, 0x97, 0xD0])  # A: VREF 1, PD 00, G 1, code 0x7D0
    write(i2c, 0x61, [0x46, 0x2A, 0xBC])  # D: VREF 0, PD 01, G 0, code 0xABC
    expected = bytes(
        [
            0xC1, 0x97, 0xD0, 0xC1, 0xD1, 0x23,  # A: input, EEPROM  (RDY=1 POR=1 DAC=00 A=001)
            0xD1, 0xD1, 0x23, 0xD1, 0xD1, 0x23,  # B
            0xE1, 0xD1, 0x23, 0xE1, 0xD1, 0x23,  # C
            0xF1, 0x2A, 0xBC, 0xF1, 0xD1, 0x23,  # D
        ]
    )  # fmt: skip
    assert read_back(i2c, 0x61) == expected
    assert read_back(i2c, 0x61, n=30) == expected + expected[:6]  # reading on repeats from A
    assert chip.address == 0x61


def test_power_down_bits_and_wake_up(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=5.0))
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x08, 0x00, 0x08, 0x00, 0x08, 0x00, 0x08, 0x00])
    assert chip.outputs() == [2.5, 2.5, 2.5, 2.5]
    write(i2c, 0x60, [0xA4, 0xB0])  # PD: A=01, B=00, C=10, D=11
    assert [r.pd for r in chip.output] == [1, 0, 2, 3]
    assert chip.outputs() == [0.0, 2.5, 0.0, 0.0]
    write(i2c, 0x00, [0x09])  # general call wake-up
    assert [r.pd for r in chip.input] == [0, 0, 0, 0]
    assert chip.outputs() == [2.5, 2.5, 2.5, 2.5]


def test_output_clips_at_vdd(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))
    i2c = dac_bus(sim)
    write(i2c, 0x60, [0x40, 0x9F, 0xFF])  # internal ref, gain x2, code 4095: 4.095 V wanted
    assert chip.volts(0) == 3.3
    write(i2c, 0x60, [0x40, 0x97, 0xD0])  # code 2000 x2: 2.0 V, under VDD
    assert chip.volts(0) == 2.0


def test_general_call_reaches_both_chips(sim):
    pitch = fake_i2c.attach(0x60, MCP4728(vdd=5.0))
    mod = fake_i2c.attach(0x64, MCP4728(vdd=5.0, address=0x64))
    i2c = dac_bus(sim)
    assert i2c.try_lock()
    assert i2c.scan() == [0x60, 0x64]
    i2c.unlock()
    pitch.set_ldac(1)
    mod.set_ldac(1)
    write(i2c, 0x60, [0x41, 0x08, 0x00])
    write(i2c, 0x64, [0x43, 0x04, 0x00])
    assert pitch.outputs() == mod.outputs() == [0.0, 0.0, 0.0, 0.0]
    write(i2c, 0x00, [0x08])
    assert pitch.outputs() == [2.5, 0.0, 0.0, 0.0]
    assert mod.outputs() == [0.0, 1.25, 0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(
    vdd=st.sampled_from([2.7, 3.3, 5.0]),
    ch=st.integers(0, 3),
    vref=st.integers(0, 1),
    pd=st.integers(0, 3),
    gain=st.integers(0, 1),
    code=st.integers(0, 4095),
)
def test_multi_write_round_trip(vdd, ch, vref, pd, gain, code):
    with simulation() as s:
        chip = fake_i2c.attach(0x60, MCP4728(vdd=vdd))
        i2c = dac_bus(s)
        hi = (vref << 7) | (pd << 5) | (gain << 4) | (code >> 8)
        write(i2c, 0x60, [0x40 | ch << 1, hi, code & 0xFF])
        data = read_back(i2c)
        assert data[6 * ch] == 0xC0 | ch << 4
        assert data[6 * ch + 1 : 6 * ch + 3] == bytes([hi, code & 0xFF])
        ref = 2.048 * (gain + 1) if vref else vdd
        want = 0.0 if pd else min(vdd, ref * code / 4096)
        assert chip.volts(ch) == pytest.approx(want, abs=1e-9)


# -- (c) the driver's EEPROM save ------------------------------------------------------------


def test_driver_save_settings_round_trip(sim, monkeypatch):
    import adafruit_mcp4728

    # On the board the driver's sleep(0.015) passes virtual time; here it must too.
    monkeypatch.setattr(adafruit_mcp4728, "sleep", lambda s: sim.world.charge(int(s * 1e9)))
    chip = fake_i2c.attach(0x60, MCP4728(vdd=3.3))
    i2c = dac_bus(sim)
    dac = adafruit_mcp4728.MCP4728(i2c)
    dac.channel_a.vref = adafruit_mcp4728.Vref.INTERNAL
    dac.channel_a.gain = 2
    dac.channel_a.raw_value = 1234
    dac.channel_c.raw_value = 4000
    t0 = sim.world.now_ns
    dac.save_settings()  # the driver has no save_to_eeprom(); this is its EEPROM save
    assert sim.world.now_ns - t0 >= 15 * MS
    assert [r.as_tuple() for r in chip.eeprom] == [
        (1234, 1, 0, 1),
        (0, 0, 0, 0),
        (4000, 0, 0, 0),
        (0, 0, 0, 0),
    ]
    # The driver waits 15 ms; the EEPROM may take up to 50 ms: still busy.
    assert read_back(i2c)[0] & 0x80 == 0
    sim.world.charge(EEPROM_WRITE_NS)
    assert chip.ready

    dac.channel_a.raw_value = 1
    dac.channel_c.raw_value = 2
    assert chip.volts(0) == 0.001  # 1 mV a step at gain x2
    chip.power_cycle()
    assert chip.volts(0) == pytest.approx(2.048 * 2 * 1234 / 4096, abs=1e-12)
    assert chip.volts(2) == pytest.approx(3.3 * 4000 / 4096, abs=1e-12)

    again = adafruit_mcp4728.MCP4728(i2c)
    assert again.channel_a.raw_value == 1234
    assert again.channel_a.vref == adafruit_mcp4728.Vref.INTERNAL
    assert again.channel_a.gain == 1  # the driver reads back the Gx bit (1 = x2), not 1/2
    assert again.channel_c.raw_value == 4000


# -- (d) the fake busio.I2C ------------------------------------------------------------------


def test_i2c_pins_must_be_an_rp2040_pair(sim):
    b = sim.board
    with pytest.raises(ValueError, match="Invalid pins"):
        fake_i2c.I2C(b.GP4, b.GP5)  # swapped: SCL must be the odd pin
    with pytest.raises(ValueError, match="Invalid pins"):
        fake_i2c.I2C(b.GP3, b.GP4)  # SCL on I2C1, SDA on I2C0
    with pytest.raises(ValueError, match="Invalid pins"):
        fake_i2c.I2C(b.GP7, b.GP5)
    with pytest.raises(TypeError):
        fake_i2c.I2C("GP5", b.GP4)
    with pytest.raises(ValueError):
        fake_i2c.I2C(b.GP5, b.GP4, frequency=2_000_000)
    assert b.GP5.in_use_by is None and b.GP4.in_use_by is None  # failed calls claim nothing
    for scl, sda in ((b.GP27, b.GP26), (b.GP21, b.GP20)):
        fake_i2c.I2C(scl, sda).deinit()


def test_i2c_pin_reuse_and_deinit(sim):
    b = sim.board
    i2c = fake_i2c.I2C(b.GP9, b.GP8)
    with pytest.raises(ValueError, match="in use"):
        fake_i2c.I2C(b.GP9, b.GP8)
    with pytest.raises(ValueError, match="I2C peripheral in use"):
        fake_i2c.I2C(b.GP13, b.GP12)  # free pins, but I2C0 is taken
    other = fake_i2c.I2C(b.GP11, b.GP10)  # I2C1 is free
    other.deinit()
    i2c.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        i2c.try_lock()
    with fake_i2c.I2C(b.GP9, b.GP8) as again:
        assert again.try_lock()
        assert not again.try_lock()
        again.unlock()
    assert b.GP9.in_use_by is None


def test_i2c_needs_the_lock(sim):
    fake_i2c.attach(0x60, MCP4728())
    i2c = dac_bus(sim)
    with pytest.raises(RuntimeError, match="requires lock"):
        i2c.writeto(0x60, b"\x00\x00")
    with pytest.raises(RuntimeError, match="requires lock"):
        i2c.readfrom_into(0x60, bytearray(3))
    with pytest.raises(RuntimeError, match="requires lock"):
        i2c.scan()


def test_i2c_bus_time_is_nine_bits_a_byte(sim):
    chip = fake_i2c.attach(0x60, MCP4728(vdd=5.0))
    i2c = dac_bus(sim, frequency=1_000_000)
    assert i2c.try_lock()
    # Fast write of four channels at 1 MHz: 9 bytes * 9 bits + start + stop = 83 us.
    spent = timed(sim, i2c.writeto, 0x60, bytes([0x08, 0x00] * 4))
    assert spent == costs.I2C_WRITETO_CPU + (9 * 9 + 2) * 1_000
    assert chip.outputs() == [2.5] * 4
    spent = timed(sim, i2c.writeto_then_readfrom, 0x60, b"\x8f", bytearray(24))
    assert spent == costs.I2C_WRITETO_CPU + (1 + 9 * 2 + 1 + 9 * 25 + 1) * 1_000
    i2c.unlock()
    i2c.deinit()

    slow = dac_bus(sim, frequency=100_000)
    assert slow.try_lock()
    buf = bytearray(b"\xee" * 30)
    spent = timed(sim, slow.readfrom_into, 0x60, buf, start=3, end=27)
    assert spent == costs.I2C_WRITETO_CPU + (9 * 25 + 2) * 10_000
    assert buf[:3] == b"\xee" * 3 and buf[27:] == b"\xee" * 3
    assert bytes(buf[3:27]) == chip.read_bytes()
    # start/end select the bytes sent: a Multi-Write inside a larger buffer.
    slow.writeto(0x60, b"\xff\x40\x87\xd0\xff", start=1, end=4)
    assert chip.volts(0) == 1.0


def test_i2c_absent_device_blocks_one_second_then_oserror(sim):
    fake_i2c.attach(0x60, MCP4728())
    i2c = dac_bus(sim)
    assert i2c.try_lock()
    t0 = sim.world.now_ns
    with pytest.raises(OSError):
        i2c.writeto(0x50, b"\x00")
    assert sim.world.now_ns - t0 == costs.I2C_WRITETO_CPU + 1_000_000_000
    t0 = sim.world.now_ns
    with pytest.raises(OSError):
        i2c.readfrom_into(0x50, bytearray(1))
    assert sim.world.now_ns - t0 == costs.I2C_WRITETO_CPU + 1_000_000_000
    # The address-only probe is bit-banged: an absent device NACKs at once.
    t0 = sim.world.now_ns
    assert i2c.probe(0x50) is False
    assert i2c.probe(0x60) is True
    assert sim.world.now_ns - t0 == 2 * (costs.I2C_WRITETO_CPU + 11 * BIT_400K)
    i2c.unlock()


def test_i2c_device_probe_of_absent_chip_takes_a_second(sim):
    from adafruit_bus_device.i2c_device import I2CDevice

    i2c = dac_bus(sim)
    t0 = sim.world.now_ns
    with pytest.raises(ValueError, match="No I2C device"):
        I2CDevice(i2c, 0x60)
    assert sim.world.now_ns - t0 >= 1_000_000_000


def test_i2c_attach_on_one_bus_object(sim):
    i2c = dac_bus(sim)
    chip = i2c.attach(0x62, MCP4728(address=0x62))
    with pytest.raises(ValueError):
        i2c.attach(0x62, MCP4728(address=0x62))
    write(i2c, 0x62, [0x40, 0x87, 0xD0])
    assert chip.volts(0) == 1.0
    assert 0x62 not in fake_i2c.devices(sim.world)
