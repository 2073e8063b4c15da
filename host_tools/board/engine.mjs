// Thruway's board engine: real CircuitPython (the UF2) on an emulated RP2040 (rp2040js 1.4.1).
//
//   node engine.mjs JOB.json RESULT.json
//
// host_tools/board/engine.py writes the job (firmware files, the CIRCUITPY image, the inputs)
// and turns the result into the simulator's output files. This file models what the chip and
// the wires around it do where rp2040js does not (docs/board-engine.md lists each point):
// the DIN wires at 31250 baud, the PL011 FIFOs and interrupts, PIO state machines stepped on the
// emulated clock, both MCP4728s on I2C (transactions are logged; the register model is
// host_tools/sim/mcp4728.py), the 595 on SPI, GPIO jacks and buttons, and a USB host that
// enumerates the composite device and talks CDC (the console) and USB MIDI.

import fs from 'node:fs';
import { ConsoleLogger, FIFO, LogLevel, RP2040 } from 'rp2040js';

// The engine's unit of time: a cycle at 125 MHz. Every time it logs is in these units; the CPU
// itself runs at clk_sys, which rp2040js follows from the PLL and CLOCKS registers (`cpuStep`).
const CYCLE_NS = 8;
const UNIT_HZ = 125e6;
const BYTE_NS = 320000; // one DIN byte: 10 bits at 31250 baud
const BIT_NS = 32000;
const RX_TIMEOUT_NS = 32 * BIT_NS; // PL011 receive timeout: 32 bit periods of silence
const RX_IRQ_LEVEL = 4; // pico-sdk sets RXIFLSEL to 1/8 of the 32-byte FIFO
const UART_FIFO = 32;
const FLASH_FS_OFFSET = 0x100000;
const NVM_OFFSET = FLASH_FS_OFFSET - 4096;
const NVIC_ICER = 0x180; // PPB offset: writing a 1 disables that interrupt
const UART_IRQ = [20, 21];
const SM_SHIFTCTRL = 0x08; // relative to a state machine's CLKDIV
const FJOIN_TX = 1 << 30;
const FJOIN_RX = 1 << 31;

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {
  console: '',
  outputs: { out1: [], out2: [], pio_edges: {} },
  usb_packets: [],
  i2c: [],
  spi: [],
  gpio: [],
  passes: [],
  t0_cycles: null,
  boot_wait_skipped_cycles: 0,
  boot_cycles: null,
  heap: null,
  alloc_events: [],
  gc_marks: [],
  rx_overflow: { in1: 0, in2: 0 },
  pio_rx: {}, // PIO input -> [cycles, byte] its state machine pushed into the RX FIFO, in order
  pio_ring_overrun: {}, // PIO input -> bytes its DMA ring lost: written over before they were read
  usb_in: { delivered: 0, max_wait_ns: 0, pending_at_end: 0 }, // the usb input's packets
  drop_counters: null, // the merger's drop counters at the end, or null where not found
  resets: [],
  clk_sys_hz: null, // clk_sys at the first pass
  uart_baud: [null, null], // the baud rate each UART's divisor gives at the clk_peri it runs on
  end_cycles: 0,
  error: null,
};

const mcu = new RP2040();
mcu.logger = new ConsoleLogger(LogLevel.Error, true);
const clock = mcu.clock;
mcu.loadBootrom(new Uint32Array(new Uint8Array(fs.readFileSync(job.bootrom)).buffer));
loadUF2(fs.readFileSync(job.uf2));
mcu.flash.set(fs.readFileSync(job.fat_image), FLASH_FS_OFFSET);
if (job.nvm) {
  mcu.flash.set(Buffer.from(job.nvm, 'hex'), NVM_OFFSET);
}
mcu.core.PC = 0x10000000;

let cycles = 0; // time since power-up, in 125 MHz cycles (CYCLE_NS)
// What one CPU cycle adds to `cycles`: 1 at 125 MHz, 0.625 at 200 MHz. PIO state machines run
// at clk_sys too; the us timer, the wires and I2C keep their own time.
let cpuStep = UNIT_HZ / mcu.clkSys;
mcu.addClockListener((hz) => {
  cpuStep = UNIT_HZ / hz;
});
const machines = []; // every PIO state machine with its stepping state (below)
const nowNs = () => cycles * CYCLE_NS;

function loadUF2(data) {
  for (let off = 0; off + 512 <= data.length; off += 512) {
    const block = data.subarray(off, off + 512);
    const view = new DataView(block.buffer, block.byteOffset, 512);
    if (view.getUint32(0, true) !== 0x0a324655 || view.getUint32(4, true) !== 0x9e5d5157) {
      throw new Error('not a UF2 block at ' + off);
    }
    const addr = view.getUint32(12, true);
    const size = view.getUint32(16, true);
    mcu.flash.set(block.subarray(32, 32 + size), addr - 0x10000000);
  }
}

// -- BOOTSEL: CircuitPython reads the QSPI chip-select pin (GPIO_HI_IN bit 1); not held.
{
  const sio = mcu.sio;
  const read = sio.readUint32.bind(sio);
  sio.readUint32 = (offset) => (offset === 0x008 ? read(offset) | 2 : read(offset));
}

// -- GPIO: what drives each pin from outside. Everything the box reads idles high (pull-ups,
// the DIN receivers' optocoupler outputs, the clock-in inverter, I2C pull-ups); a pin the chip
// drives reads back what it drives. Output changes are logged for signals.csv.
const external = new Array(30).fill(true);
const i2cSlaveLow = { sda: false };
const SDA = job.pins.dac_sda;
const SCL = job.pins.dac_scl;
const watched = new Set(job.watch_gpio);
function padLevel(i) {
  const pin = mcu.gpio[i];
  // Wired-AND on SDA: the DAC pulls it low for an ACK.
  const level = pin.outputEnable ? pin.outputValue : external[i];
  return i === SDA && i2cSlaveLow.sda ? false : level;
}
function refreshPin(i) {
  const pin = mcu.gpio[i];
  const level = padLevel(i);
  if (pin.rawInputValue !== level) {
    pin.setInputValue(level);
    wakeParked();
  }
}
const lastDriven = new Array(30).fill(null);
for (let i = 0; i < 30; i++) {
  refreshPin(i);
  mcu.gpio[i].listeners.add(() => {
    refreshPin(i);
    const pin = mcu.gpio[i];
    const driven = pin.outputEnable ? (pin.outputValue ? 1 : 0) : -1;
    if (watched.has(i) && driven !== lastDriven[i]) {
      lastDriven[i] = driven;
      out.gpio.push([cycles, i, driven]);
    }
    if (i === SDA || i === SCL) {
      bitbangI2C();
    }
    const tx = pioTxPins.get(i);
    if (tx && pin.outputEnable) {
      const level = pin.outputValue ? 1 : 0;
      if (tx.level !== level) {
        tx.level = level;
        tx.edges.push([cycles, level]);
      }
    }
  });
}
function setExternal(i, level) {
  external[i] = level;
  refreshPin(i);
}

// -- I2C, bit-banged: busio probes an address with a 0-byte write through bitbangio (the
// RP2040's I2C block cannot send one). A pin-level target ACKs the DAC addresses.
const dacAddresses = new Set(job.i2c_addresses);
const bb = { scl: true, sda: true, state: 'idle', bits: 0, shift: 0, ackPending: false };
function bitbangI2C() {
  const sclPin = mcu.gpio[SCL];
  const sdaPin = mcu.gpio[SDA];
  const scl = sclPin.outputEnable ? sclPin.outputValue : external[SCL];
  const sdaMaster = sdaPin.outputEnable ? sdaPin.outputValue : true;
  const prev = { scl: bb.scl, sda: bb.sda };
  bb.scl = scl;
  bb.sda = sdaMaster;
  if (scl && prev.scl && prev.sda && !sdaMaster && !i2cSlaveLow.sda) {
    bb.state = 'addr'; // START
    bb.bits = 0;
    bb.shift = 0;
    return;
  }
  if (scl && prev.scl && !prev.sda && sdaMaster && bb.state !== 'idle') {
    bb.state = 'idle'; // STOP
    i2cSlaveLow.sda = false;
    refreshPin(SDA);
    return;
  }
  if (bb.state === 'idle') {
    return;
  }
  if (scl && !prev.scl && bb.bits < 8) {
    bb.shift = (bb.shift << 1) | (sdaMaster ? 1 : 0);
    bb.bits++;
  } else if (!scl && prev.scl) {
    if (bb.bits === 8 && !bb.ackPending) {
      bb.ackPending = true;
      const ack = bb.state !== 'addr' || dacAddresses.has(bb.shift >> 1);
      i2cSlaveLow.sda = ack;
      if (bb.state === 'addr') {
        bb.state = ack ? 'data' : 'nack';
      }
      refreshPin(SDA);
    } else if (bb.ackPending) {
      bb.ackPending = false;
      bb.bits = 0;
      bb.shift = 0;
      i2cSlaveLow.sda = false;
      refreshPin(SDA);
    }
  }
}

// -- I2C block: two MCP4728s answer; each transaction is logged (the register model runs in
// Python). Bus time: 9 bit times a byte at the configured speed.
{
  const i2c = mcu.i2c[0];
  const bitNs = 1e9 / job.i2c_hz;
  let current = null;
  const later = (fn) => clock.createAlarm(fn);
  const startAlarm = later(() => i2c.completeStart());
  i2c.onStart = () => startAlarm.schedule(bitNs);
  let connectAck = false;
  const connectAlarm = later(() => i2c.completeConnect(connectAck));
  i2c.onConnect = (address, mode) => {
    connectAck = dacAddresses.has(address);
    if (current) {
      out.i2c.push(current);
    }
    current = connectAck ? [cycles, address, []] : null;
    connectAlarm.schedule(9 * bitNs);
  };
  const writeAlarm = later(() => i2c.completeWrite(true));
  i2c.onWriteByte = (value) => {
    if (current) {
      current[2].push(value);
    }
    writeAlarm.schedule(9 * bitNs);
  };
  const readAlarm = later(() => i2c.completeRead(0));
  i2c.onReadByte = () => readAlarm.schedule(9 * bitNs);
  const stopAlarm = later(() => {
    if (current) {
      current[0] = cycles;
      out.i2c.push(current);
      current = null;
    }
    i2c.completeStop();
  });
  i2c.onStop = () => stopAlarm.schedule(bitNs);
}

// -- SPI0: the 595's bytes, 8 bit times each at the configured speed.
{
  const spi = mcu.spi[0];
  let pending = 0;
  const done = clock.createAlarm(() => {
    out.spi.push([cycles, pending]);
    spi.completeTransmit(0);
  });
  spi.onTransmit = (value) => {
    pending = value;
    done.schedule(8 * (1e9 / job.spi_hz));
  };
}

// -- UARTs: the PL011 FIFOs and interrupt rules, and the 31250-baud wire out.
const uartState = [0, 1].map((k) => patchUart(mcu.uart[k], k));
function patchUart(uart, k) {
  const name = 'out' + (k + 1);
  const st = { starts: [], lastEnd: 0 };
  // The wire below runs at 31250 baud whatever the divisor says; engine.py checks the divisor.
  uart.onBaudRateChange = (baud) => {
    out.uart_baud[k] = baud;
  };
  const RXINTR = 1 << 4;
  const RTINTR = 1 << 6;
  uart.checkInterrupts = () => {
    mcu.setInterrupt(uart.irq, !!(uart.interruptStatus & uart.interruptMask));
  };
  const timeout = clock.createAlarm(() => {
    if (!uart.rxFIFO.empty) {
      uart.interruptStatus |= RTINTR;
      uart.checkInterrupts();
    }
  });
  uart.feedByte = (value) => {
    if (uart.rxFIFO.full) {
      out.rx_overflow['in' + (k + 1)]++;
    } else {
      uart.rxFIFO.push(value);
    }
    if (uart.rxFIFO.itemCount >= RX_IRQ_LEVEL) {
      uart.interruptStatus |= RXINTR;
    }
    timeout.schedule(RX_TIMEOUT_NS);
    uart.checkInterrupts();
  };
  const inFifo = () => {
    const now = nowNs();
    while (st.starts.length && st.starts[0] <= now) {
      st.starts.shift();
    }
    return st.starts.length;
  };
  Object.defineProperty(uart, 'flags', {
    get() {
      const n = inFifo();
      const TXFE = 1 << 7;
      const RXFF = 1 << 6;
      const TXFF = 1 << 5;
      const RXFE = 1 << 4;
      const BUSY = 1 << 3;
      return (
        (uart.rxFIFO.full ? RXFF : 0) |
        (uart.rxFIFO.empty ? RXFE : 0) |
        (n === 0 ? TXFE : 0) |
        (n >= UART_FIFO ? TXFF : 0) |
        (nowNs() < st.lastEnd ? BUSY : 0)
      );
    },
  });
  const read = uart.readUint32.bind(uart);
  uart.readUint32 = (offset) => {
    if (offset !== 0) {
      return read(offset);
    }
    const value = uart.rxFIFO.pull();
    if (uart.rxFIFO.itemCount < RX_IRQ_LEVEL) {
      uart.interruptStatus &= ~RXINTR;
    }
    if (uart.rxFIFO.empty) {
      uart.interruptStatus &= ~RTINTR;
    }
    uart.checkInterrupts();
    return value;
  };
  uart.onByte = (value) => {
    // The byte starts when the shift register is free and has left 320 us later.
    const start = Math.max(nowNs(), st.lastEnd);
    st.lastEnd = start + BYTE_NS;
    st.starts.push(start);
    out.outputs[name].push([st.lastEnd / CYCLE_NS, value]);
  };
  st.idle = () => nowNs() >= st.lastEnd;
  return st;
}

// -- PIO: state machines stepped on the emulated clock, (1 + delay) x divider cycles an
// instruction; TX/RX FIFOs joined to 8 when the program asks (rp2040js keeps 4).
// A PIO DIN input's bytes are counted where its program pushes them (the byte in bits 7-0: the
// program shifts it down before the push, firmware/board_io.py); what the wire sent and no push
// carried never reached the firmware (engine.py compares: the program stalls on a full FIFO
// while the wire goes on).
const pioRxPins = new Map(Object.entries(job.pio_rx || {}).map(([name, gpio]) => [gpio, name]));
for (const name of pioRxPins.values()) {
  out.pio_rx[name] = [];
  out.pio_ring_overrun[name] = 0;
}
function watchRx(sm) {
  const fifo = sm.rxFIFO;
  const push = fifo.push.bind(fifo);
  fifo.push = (value) => {
    const name = pioRxPins.get(sm.inBase);
    if (name !== undefined && t0 !== null && !fifo.full) out.pio_rx[name].push([cycles, value & 0xff]);
    push(value);
  };
}
// A PIO input read by DMA into a ring (firmware/ports.py PioIn): the firmware marks each slot it
// has read with a value over 0xFF, which the DMA never writes. A 16-bit transfer from a PIO RX
// DREQ onto a slot that still holds a byte writes over one the firmware never read: lost.
const DREQ_PIO_RX = [4, 5, 6, 7, 12, 13, 14, 15]; // PIO0 RX0-3, PIO1 RX0-3 (RP2040 datasheet 2.5.3.1)
for (const channel of mcu.dma.channels) {
  let transferFn = channel.transferFn;
  const checked = () => {
    const k = DREQ_PIO_RX.indexOf(channel.treqValue);
    const name = pioRxPins.get(mcu.pio[k >> 2].machines[k & 3].inBase);
    if (name !== undefined && t0 !== null && mcu.readUint16(channel.writeAddr) <= 0xff) out.pio_ring_overrun[name]++;
    transferFn();
  };
  Object.defineProperty(channel, 'transferFn', {
    get: () => (channel.dataSize === 2 && DREQ_PIO_RX.includes(channel.treqValue) ? checked : transferFn),
    set: (fn) => { transferFn = fn; },
  });
}
for (const pio of mcu.pio) {
  pio.run = () => {};
  for (const sm of pio.machines) {
    const entry = { pio, sm, next: 0, enabled: false, parked: false, parkedAt: 0 };
    machines.push(entry);
    watchRx(sm);
    const write = sm.writeUint32.bind(sm);
    sm.writeUint32 = (offset, value) => {
      write(offset, value);
      if (offset === SM_SHIFTCTRL) {
        sm.txFIFO = new FIFO(value & FJOIN_TX ? 8 : 4);
        sm.rxFIFO = new FIFO(value & FJOIN_RX ? 8 : 4);
        watchRx(sm);
      }
    };
  }
}
let pioNext = Infinity;
const WAIT_IRQ = 4;
// A parked machine resumes when its stall ends (a FIFO write or read, a pin change).
// The stalled instruction's delay runs after the stall ends (RP2040 datasheet 3.4.2: "delay
// cycles ... after the instruction completes"): rp2040js counts it in sm.cycles as it wakes, so
// the next instruction waits that long (a UART program's stop bit after a pull that waited).
function wakeParked() {
  let woke = false;
  for (const m of machines) {
    if (m.parked) {
      m.sm.checkWait(); // (rp2040js may have ended the wait itself as the FIFO was written)
      if (!m.sm.waiting) {
        m.parked = false;
        m.next = cycles + (m.sm.cycles - m.parkedAt) * smDivider(m.sm) * cpuStep;
        woke = true;
      }
    }
  }
  if (woke) pioSchedule();
}
function smDivider(sm) {
  return sm.clockDivInt === 0 ? 65536 : sm.clockDivInt + sm.clockDivFrac / 256;
}
function pioSchedule() {
  pioNext = Infinity;
  for (const m of machines) {
    if (m.sm.enabled) {
      if (!m.enabled) {
        m.enabled = true;
        m.parked = false;
        m.next = cycles;
      }
      if (m.next < pioNext) {
        pioNext = m.next;
      }
    } else {
      m.enabled = false;
    }
  }
}
for (const pio of mcu.pio) {
  const write = pio.writeUint32.bind(pio);
  pio.writeUint32 = (offset, value) => {
    write(offset, value);
    if (offset === 0x000) {
      pioSchedule();
    } else if (offset >= 0x010 && offset <= 0x01c) {
      wakeParked(); // TXF0..3
    }
  };
  const read = pio.readUint32.bind(pio);
  pio.readUint32 = (offset) => {
    const value = read(offset);
    if (offset >= 0x020 && offset <= 0x02c) {
      wakeParked(); // RXF0..3
    }
    return value;
  };
}
function pioStep() {
  for (const m of machines) {
    if (!m.enabled) {
      continue;
    }
    const { sm } = m;
    const div = smDivider(sm) * cpuStep;
    while (m.next <= cycles) {
      const before = sm.cycles;
      sm.step();
      const spent = sm.cycles - before;
      m.next += (spent > 0 ? spent : 1) * div;
      if (sm.waiting && sm.waitType !== WAIT_IRQ) {
        // Stalled on a FIFO or a pin: nothing changes until the CPU or the pin does.
        m.parked = true;
        m.parkedAt = sm.cycles; // what the wait adds from here is the instruction's delay
        m.next = Infinity;
      }
    }
  }
  mcu.pio[0].checkChangedPins();
  mcu.pio[1].checkChangedPins();
  pioSchedule();
}

// PIO outputs (the DIN UARTs, the NeoPixel chain): the pin's edges, decoded in Python.
const pioTxPins = new Map();
for (const [name, gpio] of Object.entries(job.pio_tx)) {
  const edges = [];
  out.outputs.pio_edges[name] = edges;
  pioTxPins.set(gpio, { level: name === 'leds' ? 0 : 1, edges }); // UART idles high, WS2812 low
}

// -- The pass marker and the GC heap watch.
let passCount = 0;
let lastPass = null;
let t0 = null;
{
  const ppb = mcu.ppb;
  const write = ppb.writeUint32.bind(ppb);
  const mask = 1 << UART_IRQ[0];
  ppb.writeUint32 = (offset, value) => {
    if (offset === NVIC_ICER && value & mask) {
      onPass();
    }
    write(offset, value);
  };
}
function onPass() {
  if (t0 === null) {
    t0 = cycles;
    out.t0_cycles = cycles;
    out.clk_sys_hz = mcu.clkSys;
    startSession();
  }
  if (lastPass !== null) {
    out.passes.push(Math.round(cycles - lastPass));
  }
  lastPass = cycles;
  passCount++;
}

// Heap: the GC's areas (allocation table + pool) found in RAM by their layout, then every store
// into an allocation table is checked: a block leaving FREE is an allocation, a MARK is a
// collection under way.
let heapAreas = [];
function findHeap() {
  // Each area of CircuitPython 10's split heap: allocation table, its length in bytes, the
  // finaliser table, one more per-block table, the pool's start and end (4 blocks of 16 bytes
  // per table byte).
  const ram = mcu.sramView;
  const words = mcu.sram.length >> 2;
  const isRam = (v) => v >= 0x20000000 && v < 0x20000000 + mcu.sram.length;
  const areas = new Map();
  for (let i = 0; i + 6 < words; i++) {
    const atb = ram.getUint32(i * 4, true);
    if (!isRam(atb)) continue;
    const len = ram.getUint32(i * 4 + 4, true);
    if (len < 16 || len > 0x10000) continue;
    const pool = ram.getUint32((i + 4) * 4, true);
    const end = ram.getUint32((i + 5) * 4, true);
    if (isRam(pool) && pool > atb && end - pool === len * 4 * 16 && pool - atb < len * 3 + 64) {
      areas.set(atb, { atb, len, pool, end });
    }
  }
  return [...areas.values()];
}
// The merger's drop counters (firmware/merger.py ``dropped``, per output and reason) are a list
// of small ints: at the first pass the one list of their length in the heap holding only zeros
// (a list object: type, allocated, length, items; a small int n is 2n + 1). Read at the end.
function findZeroLists(length) {
  const ram = mcu.sramView;
  const found = [];
  for (const a of heapAreas) {
    for (let at = a.pool; at + 16 <= a.end; at += 16) {
      const off = at - 0x20000000;
      const type = ram.getUint32(off, true);
      if (type < 0x10000000 || type >= 0x10200000) continue; // a type lives in flash
      if (ram.getUint32(off + 4, true) !== length || ram.getUint32(off + 8, true) !== length) continue;
      const items = ram.getUint32(off + 12, true);
      // The items may lie in another of the collector's areas than the list itself.
      if (!heapAreas.some((b) => items >= b.pool && items + 4 * length <= b.end)) continue;
      let zeros = true;
      for (let k = 0; k < length && zeros; k++) zeros = ram.getUint32(items - 0x20000000 + 4 * k, true) === 1;
      if (zeros) found.push(items);
    }
  }
  return found;
}
function readSmallInts(items, length) {
  const values = [];
  for (let k = 0; k < length; k++) {
    const v = mcu.sramView.getUint32(items - 0x20000000 + 4 * k, true);
    if (!(v & 1)) return null; // no longer a small int: not the counters
    values.push(v >> 1);
  }
  return values;
}
let dropCounters = null;
function freeBytes() {
  let free = 0;
  for (const a of heapAreas) {
    for (let b = 0; b < a.len; b++) {
      const v = mcu.sram[a.atb - 0x20000000 + b];
      for (let s = 0; s < 8; s += 2) {
        if (((v >> s) & 3) === 0) free += 16;
      }
    }
  }
  return free;
}
let watchingHeap = false;
function watchHeap() {
  const core = mcu.core;
  const ranges = heapAreas.map((a) => [a.atb, a.atb + a.len]);
  const check = (address, size, value) => {
    for (const [lo, hi] of ranges) {
      if (address + size > lo && address < hi) {
        for (let k = 0; k < size; k++) {
          const at = address + k;
          if (at < lo || at >= hi) continue;
          const old = mcu.sram[at - 0x20000000];
          const neu = (value >>> (8 * k)) & 0xff;
          for (let s = 0; s < 8; s += 2) {
            const o = (old >> s) & 3;
            const n = (neu >> s) & 3;
            if (o === 0 && n !== 0) out.alloc_events.push(cycles);
            if (n === 3 && o !== 3) out.gc_marks.push(cycles);
          }
        }
      }
    }
  };
  // Most stores are elsewhere: one bounds test over all tables first.
  const low = Math.min(...ranges.map((r) => r[0]));
  const high = Math.max(...ranges.map((r) => r[1]));
  for (const [name, size] of [['writeUint8', 1], ['writeUint16', 2], ['writeUint32', 4]]) {
    const w = core[name].bind(core);
    core[name] = (address, value) => {
      const at = address >>> 0;
      if (watchingHeap && at < high && at + size > low) check(at, size, value);
      w(address, value);
    };
  }
}

// -- Profiling probes (THRUWAY_PROBE=1, a development aid): a store to PROBE
// (memorymap.AddressRange in a patched firmware) is logged as [cycles, value] and not made:
// its address, the top word of SRAM5, is left alone.
if (process.env.THRUWAY_PROBE) {
  const PROBE = 0x20041ffc;
  out.probes = [];
  const core = mcu.core;
  for (const name of ['writeUint8', 'writeUint16', 'writeUint32']) {
    const w = core[name].bind(core);
    core[name] = (address, value) => {
      if ((address >>> 0) === PROBE) out.probes.push([cycles, value]);
      else w(address, value);
    };
  }
}

// -- USB host: enumerate the composite device, bind CDC (console) and USB MIDI.
const usb = mcu.usbCtrl;
const host = {
  descriptorsSize: null,
  descriptors: [],
  configured: false,
  cdcIn: -1,
  cdcOut: -1,
  midiIn: -1,
  midiOut: -1,
  armed: new Map(), // OUT endpoint -> size the device is waiting for
  midiQueue: [], // [due_ns, Uint8Array packet]
};
function parseEndpoints(d) {
  let kind = null;
  for (let i = 0; i + 1 < d.length && d[i] >= 2; i += d[i]) {
    const len = d[i];
    const type = d[i + 1];
    if (type === 4 && len >= 9) {
      const cls = d[i + 5];
      const sub = d[i + 6];
      kind = cls === 10 ? 'cdc' : cls === 1 && sub === 3 ? 'midi' : null;
    } else if (type === 5 && (len === 7 || len === 9) && kind && (d[i + 3] & 3) === 2) {
      const address = d[i + 2];
      const ep = address & 0xf;
      if (kind === 'cdc') host[address & 0x80 ? 'cdcIn' : 'cdcOut'] = ep;
      else host[address & 0x80 ? 'midiIn' : 'midiOut'] = ep;
    }
  }
}
const SETUP = (bm, req, value, index, length) =>
  new Uint8Array([bm, req, value & 0xff, value >> 8, index & 0xff, index >> 8, length & 0xff, length >> 8]);
usb.onUSBEnabled = () => usb.resetDevice();
usb.onResetReceived = () => usb.sendSetupPacket(SETUP(0x00, 5, 1, 0, 0));
usb.onEndpointWrite = (ep, buffer) => {
  if (ep === 0) {
    if (buffer.length === 0) {
      if (host.descriptorsSize === null) {
        usb.sendSetupPacket(SETUP(0x80, 6, 0x0200, 0, 9));
      } else if (!host.configured && host.descriptors.length >= host.descriptorsSize) {
        host.configured = true;
        usb.sendSetupPacket(SETUP(0x21, 0x22, 3, 0, 0)); // CDC: DTR and RTS set
      }
      return;
    }
    if (host.descriptorsSize === null && buffer.length === 9 && buffer[1] === 2) {
      host.descriptorsSize = buffer[2] | (buffer[3] << 8);
      usb.sendSetupPacket(SETUP(0x80, 6, 0x0200, 0, host.descriptorsSize));
    } else if (host.descriptorsSize !== null && host.descriptors.length < host.descriptorsSize) {
      host.descriptors.push(...buffer);
      if (host.descriptors.length >= host.descriptorsSize) {
        parseEndpoints(host.descriptors);
        usb.sendSetupPacket(SETUP(0x00, 9, 1, 0, 0));
      }
    }
    return;
  }
  if (ep === host.cdcIn) {
    const text = Buffer.from(buffer).toString('latin1');
    out.console += text;
    consoleSeen(text);
  } else if (ep === host.midiIn) {
    for (let i = 0; i + 4 <= buffer.length; i += 4) {
      out.usb_packets.push([cycles, buffer[i], buffer[i + 1], buffer[i + 2], buffer[i + 3]]);
    }
  }
};
usb.onEndpointRead = (ep, size) => {
  host.armed.set(ep, size);
  feedUsb();
};
function feedUsb() {
  const now = nowNs();
  if (host.armed.has(host.midiOut) && host.midiQueue.length && host.midiQueue[0][0] <= now) {
    const size = host.armed.get(host.midiOut);
    const chunk = [];
    while (host.midiQueue.length && host.midiQueue[0][0] <= now && chunk.length + 4 <= size) {
      const [due, packet] = host.midiQueue.shift();
      chunk.push(...packet);
      // How long the packet waited for the box to take it (the box reads USB only when it has
      // room: the host keeps what it has not taken, nothing is lost).
      out.usb_in.delivered++;
      out.usb_in.max_wait_ns = Math.max(out.usb_in.max_wait_ns, now - due);
    }
    host.armed.delete(host.midiOut);
    usb.endpointReadDone(host.midiOut, Uint8Array.from(chunk));
  }
}

// -- The session: inputs timed from t0 (the first main-loop pass).
let readyFree = null;
let consoleTail = '';
let codeEnded = false;
function consoleSeen(text) {
  consoleTail = (consoleTail + text).slice(-4096);
  // code.py stopped (an exception, or it returned) before its main loop: no session to run.
  if (t0 === null && consoleTail.includes('Press any key to enter the REPL')) codeEnded = true;
  const m = /Thruway ready: preset \d+, (-?\d+) bytes free/.exec(consoleTail);
  if (m && readyFree === null) {
    readyFree = Number(m[1]);
  }
}
// A sorted list of [ns, fn] on one alarm: many events, one link in the clock's list.
function timeline(events) {
  events.sort((a, b) => a[0] - b[0]);
  let k = 0;
  const alarm = clock.createAlarm(() => {
    while (k < events.length && events[k][0] <= clock.nanos) {
      events[k][1]();
      k++;
    }
    if (k < events.length) alarm.schedule(events[k][0] - clock.nanos);
  });
  if (events.length) alarm.schedule(Math.max(0, events[0][0] - clock.nanos));
}

let endCycles = Infinity;
let sessionEndNs = null;
function startSession() {
  const base = nowNs();
  out.boot_cycles = cycles;
  heapAreas = findHeap();
  if (process.env.THRUWAY_BOARD_DUMP) fs.writeFileSync(process.env.THRUWAY_BOARD_DUMP, mcu.sram);
  out.heap = { areas: heapAreas.length, free_at_start: heapAreas.length ? freeBytes() : null };
  if (heapAreas.length) {
    watchHeap();
    watchingHeap = true;
    if (job.drop_counters_length) {
      const found = findZeroLists(job.drop_counters_length);
      if (found.length === 1) dropCounters = found[0]; // none, or two alike: not read
    }
  }
  const events = [];
  for (const [name, kind, index, bytes] of job.din_inputs) {
    if (kind === 'uart') {
      const uart = mcu.uart[index];
      for (const [t, b] of bytes) events.push([base + t, () => uart.feedByte(b)]);
    } else {
      // PIO input: the wire's level, bit by bit (start bit low, LSB first, stop bit high).
      const gpio = index;
      for (const [t, b] of bytes) {
        const start = base + t - BYTE_NS;
        let level = 0;
        events.push([start, () => setExternal(gpio, false)]);
        for (let bit = 0; bit < 9; bit++) {
          const v = bit < 8 ? (b >> bit) & 1 : 1;
          if (v !== level) {
            level = v;
            events.push([start + (bit + 1) * BIT_NS, () => setExternal(gpio, !!v)]);
          }
        }
      }
    }
  }
  for (const [t, packet] of job.usb_in) {
    host.midiQueue.push([base + t, Uint8Array.from(packet)]);
    events.push([base + t, feedUsb]);
  }
  for (const [t, gpio, level] of job.pin_events) {
    if (t > 0) events.push([base + t, () => setExternal(gpio, level)]);
  }
  host.midiQueue.sort((a, b) => a[0] - b[0]);
  timeline(events);
  sessionEndNs = base + job.until_ns;
  endCycles = Math.ceil(sessionEndNs / CYCLE_NS);
}
for (const [t, gpio, level] of job.pin_events) {
  if (t <= 0) setExternal(gpio, level); // held at power-up
}

// -- Run.
const core = mcu.core;
const bootLimit = Math.round((job.boot_limit_ns || 30e9) / CYCLE_NS);
let watchdogFired = false;
mcu.peripherals[0x40058].onWatchdogTrigger = () => {
  watchdogFired = true;
  out.resets.push([cycles, 'watchdog']);
};
// Boot spends 1.2 s of its 2.9 in the Pico SDK's busy_wait_until, reading the timer: nearly
// half of a short run's wall time (5.6 of 11.9 s). Before the first main-loop pass, the engine
// moves time on to the wait's end (or the next alarm or PIO step) as it does for WFI. The
// loop, found by its code: ldr r1,[r2,#0x24]; cmp r1,r3; bne out; ldr r1,[r2,#0x28];
// cmp r1,r4; bcc back.
const BUSY_WAIT_CODE = Buffer.from('516a994202d1916aa142f9d3', 'hex');
const TIMER_BASE = 0x40054000;
const BOOT_CHECK_CYCLES = 10000; // how often boot looks for the wait (80 us at 125 MHz)
const busyWaitAt = (() => {
  const k = Buffer.from(mcu.flash.buffer, mcu.flash.byteOffset, FLASH_FS_OFFSET).indexOf(BUSY_WAIT_CODE);
  return k < 0 ? -1 : 0x10000000 + k;
})();
// Moves time on by up to ``most`` cycles with the CPU idle (WFI, or the boot's busy wait):
// never past the next alarm, the next PIO step or ``limitCycles``. Returns the cycles skipped.
function skipCycles(most, limitCycles) {
  let skip = most;
  const toAlarm = clock.nanosToNextAlarm;
  if (toAlarm > 0 && Math.ceil(toAlarm / CYCLE_NS) < skip) skip = Math.ceil(toAlarm / CYCLE_NS);
  if (pioNext - cycles < skip) skip = Math.max(1, Math.ceil(pioNext - cycles));
  if (limitCycles - cycles < skip) skip = limitCycles - cycles;
  cycles += skip;
  clock.tick(skip * CYCLE_NS);
  return skip;
}
function runBoot(limitCycles) {
  const r = core.registers;
  while (t0 === null && cycles < limitCycles && !watchdogFired && !codeEnded) {
    const pc = core.PC;
    if (pc >= busyWaitAt && pc < busyWaitAt + BUSY_WAIT_CODE.length && r[2] === TIMER_BASE && !core.waiting) {
      const untilNs = (r[3] * 2 ** 32 + r[4]) * 1000;
      if (untilNs > clock.nanos) {
        out.boot_wait_skipped_cycles += skipCycles(Math.ceil((untilNs - clock.nanos) / CYCLE_NS), limitCycles);
        if (cycles >= pioNext) pioStep();
      }
    }
    run(Math.min(limitCycles, cycles + BOOT_CHECK_CYCLES));
  }
}
function run(limitCycles) {
  while (cycles < limitCycles && cycles < endCycles && !watchdogFired && !codeEnded) {
    if (core.waiting) {
      skipCycles(clock.nanosToNextAlarm > 0 ? Infinity : 1, limitCycles); // to the next alarm
    } else {
      const c = core.executeInstruction() * cpuStep;
      cycles += c;
      clock.tick(c * CYCLE_NS);
    }
    if (cycles >= pioNext) pioStep();
  }
}
runBoot(bootLimit);
run(bootLimit);
if (t0 === null) {
  out.error = codeEnded
    ? 'code.py stopped before its main loop (see the console)'
    : 'the firmware never reached its main loop within ' + job.boot_limit_ns / 1e9 + ' s of power-up';
} else {
  run(Infinity);
  // Outputs still busy (DIN wire, a PIO transmitter) finish within the grace the job allows.
  const grace = Math.round((job.drain_ns || 0) / CYCLE_NS);
  const stop = endCycles + grace;
  endCycles = stop;
  while (cycles < stop && !(uartState.every((s) => s.idle()) && pioIdle())) {
    run(Math.min(stop, cycles + 125000));
  }
  out.session_end_cycles = cycles;
  out.usb_in.pending_at_end = host.midiQueue.length;
  if (dropCounters !== null) out.drop_counters = readSmallInts(dropCounters, job.drop_counters_length);
  out.heap.ready_free = readyFree;
  out.heap.free_at_end = heapAreas.length ? freeBytes() : null;
  watchingHeap = false;
}
out.end_cycles = cycles;
function pioIdle() {
  for (const [gpio, tx] of pioTxPins) {
    if (tx.edges.length && (cycles - tx.edges[tx.edges.length - 1][0]) * CYCLE_NS < BYTE_NS) return false;
  }
  for (const m of machines) {
    if (m.enabled && pioTxPins.size && !m.sm.txFIFO.empty && m.sm.txFIFO.size === 8) return false;
  }
  return true;
}
out.pass_count = passCount;
fs.writeFileSync(process.argv[3], JSON.stringify(out));
