/**
 * The live network drawn with three.js: tasks as glowing spheres (one InstancedMesh), dependencies
 * as lines (one LineSegments), signals as particles travelling from producer to consumer (one
 * InstancedMesh, a pool), bloom post-processing, orbit/zoom/pan. Every effect is applied at once and
 * drawn by the next frame; frames that get slow lower the quality (no bloom, fewer particles, a lower
 * pixel ratio) instead of stalling. With reduced motion nothing pulses or travels: states show as
 * steady colours and a signal lights its link.
 */
import {
  AdditiveBlending,
  BufferAttribute,
  BufferGeometry,
  Color,
  DynamicDrawUsage,
  InstancedMesh,
  LineBasicMaterial,
  LineSegments,
  Matrix4,
  MeshBasicMaterial,
  PerspectiveCamera,
  Raycaster,
  Scene,
  SphereGeometry,
  Vector2,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { EffectComposer } from 'three/examples/jsm/postprocessing/EffectComposer.js';
import { OutputPass } from 'three/examples/jsm/postprocessing/OutputPass.js';
import { RenderPass } from 'three/examples/jsm/postprocessing/RenderPass.js';
import { UnrealBloomPass } from 'three/examples/jsm/postprocessing/UnrealBloomPass.js';
import type { NetworkLayout } from '../../../core/graph/network-layout.ts';
import { count, pushBounded, type Live3dHook, type SceneSample } from './hook.ts';
import type { VisualEffect } from './model.ts';

const FLASH_MS = 1200;
const PULSE_MS = 1500;
const PARTICLE_MS = 700;
const BACKGROUND = 0x05060f;

/** Particle pool sizes, bloom and pixel ratio per quality level. */
const QUALITY = {
  full: { particles: 4000, bloom: true, pixelRatio: 1.5 },
  reduced: { particles: 800, bloom: false, pixelRatio: 1 },
  minimal: { particles: 150, bloom: false, pixelRatio: 0.5 },
} as const;
type Quality = keyof typeof QUALITY;
const LEVELS: Quality[] = ['minimal', 'reduced', 'full'];

/** What the scene is drawn with. */
export interface NetworkSceneOptions {
  reducedMotion: boolean;
  hook: Live3dHook;
  /** The node under the pointer (its index, where to show its label), or undefined. */
  onHover(hover: { node: number; x: number; y: number } | undefined): void;
}

/** The 3D view of one laid-out network. */
export class NetworkScene {
  private readonly renderer: WebGLRenderer;
  private readonly scene = new Scene();
  private readonly camera: PerspectiveCamera;
  private readonly controls: OrbitControls;
  private readonly composer: EffectComposer;
  private readonly bloom: UnrealBloomPass;
  private readonly nodes: InstancedMesh;
  private readonly lines: LineSegments;
  private readonly lineColors: BufferAttribute;
  private readonly particles: InstancedMesh;
  private readonly positions: Vector3[];
  /** Per link: the indices of its source and target nodes. */
  private readonly linkSource: Int32Array;
  private readonly linkTarget: Int32Array;
  private readonly baseColors: Color[];
  /** Per node: executions running it now, flash start and colour, failure pulse start, lasting failure. */
  private readonly running: Int32Array;
  private readonly flashAt: Float64Array;
  private readonly flashFailed: Uint8Array;
  private readonly failed: Uint8Array;
  private readonly linkFlashAt: Float64Array;
  private readonly visible: Uint8Array;
  private heat: { nodes: Float32Array; links: Float32Array } | undefined;
  /** Nodes and links whose look changes with time, redrawn every frame until they settle. */
  private readonly animatedNodes = new Set<number>();
  private readonly animatedLinks = new Set<number>();
  private allDirty = true;
  private particleLink: Int32Array;
  private particleStart: Float64Array;
  private particleCount = 0;
  private quality: Quality = 'full';
  private frame = 0;
  private lastFrame = 0;
  private readonly frameWindow: number[] = [];
  private calmWindows = 0;
  private pendingLatency: number[] = [];
  private readonly raycaster = new Raycaster();
  private readonly pointer = new Vector2();
  private disposed = false;
  private readonly matrix = new Matrix4();
  private readonly color = new Color();

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly layout: NetworkLayout,
    private readonly options: NetworkSceneOptions,
  ) {
    this.renderer = new WebGLRenderer({ canvas, antialias: false, powerPreference: 'high-performance' });
    this.renderer.setClearColor(BACKGROUND);
    const n = layout.nodes.length;
    this.positions = layout.nodes.map((p) => new Vector3(p.x, p.y, p.z));
    const index = new Map(layout.nodes.map((node, i) => [node.id, i]));
    this.linkSource = Int32Array.from(layout.links, (l) => index.get(l.source) ?? 0);
    this.linkTarget = Int32Array.from(layout.links, (l) => index.get(l.target) ?? 0);
    const clusters = new Map(layout.clusters.map((c, i) => [c.key, i]));
    this.baseColors = layout.nodes.map((node) => {
      // Idle: dim blue to purple, one hue per cluster.
      const hue = 0.62 + 0.14 * (((clusters.get(node.cluster) ?? 0) * 0.37) % 1);
      return new Color().setHSL(hue, 0.7, 0.32);
    });
    this.running = new Int32Array(n);
    this.flashAt = new Float64Array(n).fill(-Infinity);
    this.flashFailed = new Uint8Array(n);
    this.failed = new Uint8Array(n);
    this.visible = new Uint8Array(n).fill(1);
    this.linkFlashAt = new Float64Array(layout.links.length).fill(-Infinity);

    const centre = new Vector3();
    for (const p of this.positions) centre.add(p);
    if (n) centre.divideScalar(n);
    const radius = Math.max(10, ...this.positions.map((p) => p.distanceTo(centre)));
    this.camera = new PerspectiveCamera(55, 1, 0.1, radius * 20);
    this.camera.position.copy(centre).add(new Vector3(0, radius * 0.4, radius * 2.2));
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.target.copy(centre);
    this.controls.enableDamping = !options.reducedMotion;
    this.controls.addEventListener('change', () => (this.allDirty = true));

    this.nodes = new InstancedMesh(
      new SphereGeometry(1, 16, 12),
      new MeshBasicMaterial({ toneMapped: false }),
      Math.max(1, n),
    );
    this.nodes.count = n;
    this.nodes.instanceMatrix.setUsage(DynamicDrawUsage);
    for (let i = 0; i < n; i++) {
      this.matrix.makeTranslation(this.positions[i] as Vector3);
      this.nodes.setMatrixAt(i, this.matrix);
      this.nodes.setColorAt(i, this.baseColors[i] as Color);
    }
    this.nodes.computeBoundingSphere();
    this.scene.add(this.nodes);

    const linePositions = new Float32Array(layout.links.length * 6);
    layout.links.forEach((_, i) => {
      const a = this.positions[this.linkSource[i] as number] as Vector3;
      const b = this.positions[this.linkTarget[i] as number] as Vector3;
      linePositions.set([a.x, a.y, a.z, b.x, b.y, b.z], i * 6);
    });
    const lineGeometry = new BufferGeometry();
    lineGeometry.setAttribute('position', new BufferAttribute(linePositions, 3));
    this.lineColors = new BufferAttribute(new Float32Array(layout.links.length * 6), 3);
    this.lineColors.setUsage(DynamicDrawUsage);
    lineGeometry.setAttribute('color', this.lineColors);
    this.lines = new LineSegments(
      lineGeometry,
      new LineBasicMaterial({ vertexColors: true, toneMapped: false, transparent: true, opacity: 0.9 }),
    );
    this.scene.add(this.lines);

    const capacity = QUALITY.full.particles;
    this.particleLink = new Int32Array(capacity);
    this.particleStart = new Float64Array(capacity);
    this.particles = new InstancedMesh(
      new SphereGeometry(0.35, 8, 6),
      new MeshBasicMaterial({
        color: PARTICLE,
        toneMapped: false,
        blending: AdditiveBlending,
      }),
      capacity,
    );
    this.particles.count = 0;
    this.particles.frustumCulled = false;
    this.particles.instanceMatrix.setUsage(DynamicDrawUsage);
    this.scene.add(this.particles);

    this.composer = new EffectComposer(this.renderer);
    this.composer.addPass(new RenderPass(this.scene, this.camera));
    this.bloom = new UnrealBloomPass(new Vector2(256, 256), 1.1, 0.5, 0.15);
    this.composer.addPass(this.bloom);
    this.composer.addPass(new OutputPass());

    canvas.addEventListener('pointermove', this.onPointerMove);
    canvas.addEventListener('pointerleave', this.onPointerLeave);
    options.hook.webgl = true;
    options.hook.nodes = n;
    options.hook.links = layout.links.length;
    options.hook.reducedMotion = options.reducedMotion;
    options.hook.sample = () => this.sample();
    // A software renderer (SwiftShader, llvmpipe) cannot afford bloom: it starts one level down.
    options.hook.renderer = rendererName(this.renderer);
    this.setQuality(/swiftshader|llvmpipe|software/i.test(options.hook.renderer) ? 'reduced' : 'full');
    this.resize();
    this.lastFrame = performance.now();
    requestAnimationFrame(this.tick);
  }

  /** Draws effects received at `receivedAt` (performance.now()); counts each in the hook. */
  apply(effects: readonly VisualEffect[], receivedAt: number): void {
    const now = performance.now();
    const hook = this.options.hook;
    for (const effect of effects) {
      if (effect.kind === 'signal') {
        const motion = !this.options.reducedMotion && this.particleCount < QUALITY[this.quality].particles;
        if (motion) {
          // Signals of one frame start together: a parallel group fires as one wave.
          this.particleLink[this.particleCount] = effect.link;
          this.particleStart[this.particleCount++] = now;
          count(hook.drawn, 'particle');
        } else count(hook.drawn, 'linkFlash');
        this.linkFlashAt[effect.link] = now;
        this.animatedLinks.add(effect.link);
      } else {
        const node = effect.node;
        if (effect.kind === 'start') this.running[node] = (this.running[node] ?? 0) + 1;
        else if (effect.kind === 'succeed' || effect.kind === 'fail' || effect.kind === 'skip')
          this.running[node] = Math.max(0, (this.running[node] ?? 0) - 1);
        if (effect.kind === 'loop') {
          this.flashAt[node] = now;
          this.flashFailed[node] = 0;
        }
        if (effect.kind === 'succeed' || effect.kind === 'fail') {
          this.flashAt[node] = now;
          this.flashFailed[node] = effect.kind === 'fail' ? 1 : 0;
          this.failed[node] = effect.kind === 'fail' ? 1 : 0;
        }
        this.animatedNodes.add(node);
        count(hook.drawn, effect.kind);
      }
      count(hook.effects, effect.event);
      this.pendingLatency.push(receivedAt);
    }
  }

  /** Heat-map mode: nodes and links coloured by their share of calls in the window; undefined: off. */
  setHeat(heat: { nodes: Float32Array; links: Float32Array } | undefined): void {
    this.heat = heat;
    this.allDirty = true;
  }

  /** Shows only some nodes (filters, the growth time-lapse); undefined: all. */
  setVisible(visible: ((node: number) => boolean) | undefined): void {
    for (let i = 0; i < this.visible.length; i++) this.visible[i] = !visible || visible(i) ? 1 : 0;
    this.allDirty = true;
  }

  /** What the last frame drew (the test hook's `sample`): read from the buffers, not recomputed. */
  private sample(): SceneSample {
    const matrix = new Matrix4();
    const color = new Color();
    const background = new Color(BACKGROUND);
    const lines = this.lineColors.array as Float32Array;
    const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;
    return {
      nodes: this.layout.nodes.map((node, i) => {
        this.nodes.getMatrixAt(i, matrix);
        this.nodes.getColorAt(i, color);
        // Scaled uniformly (makeScale, then placed): the length of the first column is the scale.
        const [x = 0, y = 0, z = 0] = matrix.elements;
        return { id: node.id, scale: Math.hypot(x, y, z), color: [color.r, color.g, color.b] };
      }),
      links: this.layout.links.map((link, i) => {
        const [r = 0, g = 0, b = 0] = lines.subarray(i * 6, i * 6 + 3);
        return {
          source: link.source,
          target: link.target,
          color: [r, g, b],
          hidden: near(r, background.r) && near(g, background.g) && near(b, background.b),
        };
      }),
    };
  }

  /** Fits the drawing buffer to the canvas's size. */
  resize(): void {
    const width = Math.max(1, this.canvas.clientWidth);
    const height = Math.max(1, this.canvas.clientHeight);
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, QUALITY[this.quality].pixelRatio));
    this.renderer.setSize(width, height, false);
    this.composer.setPixelRatio(Math.min(window.devicePixelRatio || 1, QUALITY[this.quality].pixelRatio));
    this.composer.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.allDirty = true;
  }

  dispose(): void {
    this.disposed = true;
    this.canvas.removeEventListener('pointermove', this.onPointerMove);
    this.canvas.removeEventListener('pointerleave', this.onPointerLeave);
    this.controls.dispose();
    this.nodes.geometry.dispose();
    this.particles.geometry.dispose();
    this.lines.geometry.dispose();
    this.composer.dispose();
    this.renderer.dispose();
  }

  private setQuality(quality: Quality): void {
    this.quality = quality;
    this.bloom.enabled = QUALITY[quality].bloom;
    const particle = (this.particles.material as MeshBasicMaterial).color.copy(PARTICLE);
    if (!this.bloom.enabled) keepHue(particle);
    this.allDirty = true;
    this.particleCount = Math.min(this.particleCount, QUALITY[quality].particles);
    const hook = this.options.hook;
    hook.quality = quality;
    hook.bloom = QUALITY[quality].bloom;
    this.resize();
  }

  /**
   * Steps the quality down when the median frame of the last second (at least 8 frames) is slow, up
   * when it has been fast again for three seconds.
   */
  private adapt(interval: number): void {
    this.frameWindow.push(interval);
    const span = this.frameWindow.reduce((a, b) => a + b, 0);
    if (this.frameWindow.length < 8 || (span < 1000 && this.frameWindow.length < 60)) return;
    const sorted = [...this.frameWindow].sort((a, b) => a - b);
    this.frameWindow.length = 0;
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    const level = LEVELS.indexOf(this.quality);
    if (median > 45 && level > 0) {
      this.calmWindows = 0;
      this.setQuality(LEVELS[level - 1] as Quality);
    } else if (median < 20 && level < LEVELS.length - 1) {
      if (++this.calmWindows >= 3) {
        this.calmWindows = 0;
        this.setQuality(LEVELS[level + 1] as Quality);
      }
    } else this.calmWindows = 0;
  }

  private readonly tick = (): void => {
    if (this.disposed) return;
    const now = performance.now();
    const interval = now - this.lastFrame;
    this.lastFrame = now;
    if (this.options.reducedMotion === false) this.controls.update();
    this.updateNodes(now);
    this.updateLinks(now);
    this.updateParticles(now);
    this.allDirty = false;
    if (this.bloom.enabled) this.composer.render();
    else this.renderer.render(this.scene, this.camera);
    const hook = this.options.hook;
    const drawn = performance.now();
    for (const received of this.pendingLatency) pushBounded(hook.latencyMs, drawn - received, 20_000);
    this.pendingLatency = [];
    hook.frames = ++this.frame;
    if (this.frame > 1) {
      pushBounded(hook.frameMs, interval, 2_000);
      this.adapt(interval);
    }
    hook.particles = this.particleCount;
    requestAnimationFrame(this.tick);
  };

  private nodeColor(i: number, now: number, out: Color): number {
    const reduced = this.options.reducedMotion;
    const heat = this.heat?.nodes[i];
    if (heat !== undefined) heatColor(heat, out);
    else out.copy(this.baseColors[i] as Color);
    let scale = heat !== undefined ? 1 + heat : 1;
    if (this.failed[i]) out.lerp(RED, 0.45);
    let animating = false;
    if ((this.running[i] ?? 0) > 0) {
      const pulse = reduced ? 1 : 0.65 + 0.35 * Math.sin(now / 120);
      out.lerp(RUNNING, 0.8 * pulse).multiplyScalar(1 + pulse);
      scale *= reduced ? 1.3 : 1.15 + 0.2 * pulse;
      animating = !reduced;
    }
    const since = now - (this.flashAt[i] ?? -Infinity);
    const length = this.flashFailed[i] ? PULSE_MS : FLASH_MS;
    if (since < length) {
      const fade = reduced
        ? 1
        : this.flashFailed[i]
          ? Math.abs(Math.sin((since / PULSE_MS) * Math.PI * 3))
          : 1 - since / FLASH_MS;
      out.lerp(this.flashFailed[i] ? RED_BRIGHT : GREEN, fade);
      scale *= 1 + 0.4 * fade;
      animating = true;
    }
    if (!animating) this.animatedNodes.delete(i);
    if (!this.bloom.enabled) keepHue(out);
    return this.visible[i] ? scale : 0;
  }

  private updateNodes(now: number): void {
    const indices = this.allDirty ? this.positions.keys() : [...this.animatedNodes];
    let changed = false;
    for (const i of indices) {
      const scale = this.nodeColor(i, now, this.color);
      this.nodes.setColorAt(i, this.color);
      this.matrix.makeScale(scale, scale, scale).setPosition(this.positions[i] as Vector3);
      this.nodes.setMatrixAt(i, this.matrix);
      changed = true;
    }
    if (changed) {
      this.nodes.instanceMatrix.needsUpdate = true;
      if (this.nodes.instanceColor) this.nodes.instanceColor.needsUpdate = true;
    }
  }

  private updateLinks(now: number): void {
    const indices = this.allDirty ? this.layout.links.keys() : [...this.animatedLinks];
    const colors = this.lineColors.array as Float32Array;
    let changed = false;
    for (const i of indices) {
      const shown = this.visible[this.linkSource[i] as number] && this.visible[this.linkTarget[i] as number];
      const heat = this.heat?.links[i];
      if (heat !== undefined) heatColor(heat, this.color);
      else this.color.copy(LINK);
      const since = now - (this.linkFlashAt[i] ?? -Infinity);
      if (since < FLASH_MS) this.color.lerp(SIGNAL, this.options.reducedMotion ? 1 : 1 - since / FLASH_MS);
      else this.animatedLinks.delete(i);
      if (!this.bloom.enabled) keepHue(this.color);
      if (!shown) this.color.set(BACKGROUND);
      colors.set([this.color.r, this.color.g, this.color.b, this.color.r, this.color.g, this.color.b], i * 6);
      changed = true;
    }
    if (changed) this.lineColors.needsUpdate = true;
  }

  private updateParticles(now: number): void {
    let live = 0;
    for (let p = 0; p < this.particleCount; p++) {
      const t = (now - (this.particleStart[p] as number)) / PARTICLE_MS;
      if (t >= 1) continue;
      const link = this.particleLink[p] as number;
      this.particleLink[live] = link;
      this.particleStart[live] = this.particleStart[p] as number;
      const a = this.positions[this.linkSource[link] as number] as Vector3;
      const b = this.positions[this.linkTarget[link] as number] as Vector3;
      this.matrix.makeTranslation(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.z + (b.z - a.z) * t);
      this.particles.setMatrixAt(live++, this.matrix);
    }
    this.particleCount = live;
    this.particles.count = live;
    // Uploads the live particles only, not the whole pool.
    const matrices = this.particles.instanceMatrix;
    matrices.clearUpdateRanges();
    matrices.addUpdateRange(0, Math.max(1, live) * 16);
    matrices.needsUpdate = true;
  }

  private readonly onPointerMove = (event: PointerEvent): void => {
    const rect = this.canvas.getBoundingClientRect();
    this.pointer.set(
      ((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1,
    );
    this.raycaster.setFromCamera(this.pointer, this.camera);
    const hit = this.raycaster
      .intersectObject(this.nodes, false)
      .find((h) => this.visible[h.instanceId ?? -1]);
    this.options.onHover(
      hit?.instanceId === undefined
        ? undefined
        : { node: hit.instanceId, x: event.clientX - rect.left, y: event.clientY - rect.top },
    );
  };

  private readonly onPointerLeave = (): void => this.options.onHover(undefined);
}

const PARTICLE = new Color(0.6, 1.6, 2.4);
const RED = new Color(0.9, 0.1, 0.12);
const RED_BRIGHT = new Color(2.4, 0.25, 0.25);
const GREEN = new Color(0.3, 2.2, 0.6);
const RUNNING = new Color(0.8, 1.4, 2.2);
const LINK = new Color(0.16, 0.18, 0.4);
const SIGNAL = new Color(0.6, 1.4, 2.2);

/**
 * Without bloom, components above 1 would clip to white: the colour is scaled down so that its
 * brightest component is 1, keeping its hue (running stays blue, success green).
 */
function keepHue(color: Color): void {
  const max = Math.max(color.r, color.g, color.b);
  if (max > 1) color.multiplyScalar(1 / max);
}

/** The name of the device WebGL draws with. */
function rendererName(renderer: WebGLRenderer): string {
  const gl = renderer.getContext();
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/** Cold to hot: blue, cyan, yellow, red. */
function heatColor(value: number, out: Color): Color {
  return out.setHSL(0.66 - 0.66 * Math.min(1, Math.max(0, value)), 0.9, 0.25 + 0.35 * value);
}
